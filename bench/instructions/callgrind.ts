// A server process under valgrind's callgrind, counting nothing until asked. Instruction counts
// repeat where timings do not: a neighbour on the machine slows the process, it does not make it
// execute more.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startServer, type ServerProcess } from '../harness/processes.ts'
import { onPath } from '../harness/provision.ts'
import type { Hold } from './requests.ts'

const execFileAsync = promisify(execFile)

/**
 * V8 as one thread whose choices do not depend on timing: `--predictable` compiles, marks and
 * sweeps on the main thread instead of on helper threads that run when the scheduler lets them,
 * and fixes its random seeds; `--predictable-gc-schedule` sizes the heap by fixed rules instead
 * of by allocation rates measured in time.
 */
export const NODE_FLAGS = ['--predictable', '--predictable-gc-schedule']

/**
 * valgrind names the pipes callgrind_control reaches it by after the environment's user and host
 * (`USER`, `HOST`): the server and callgrind_control must be given the same. `HOST` is also the
 * address the server listens on.
 */
const VGDB_NAMES = { USER: 'eventcache-bench', LOGNAME: 'eventcache-bench', HOST: '127.0.0.1' }

export interface CountedServer {
  url: string
  /**
   * Switches instrumentation on, for good. Switching discards every translation valgrind has
   * made, so it is done once, after the warm-up: the requests before it run many times faster.
   */
  instrument: () => Promise<void>
  /** Instructions the process executes while `work` runs (every thread's), once instrumented. */
  count: (work: () => Promise<void>) => Promise<number>
  /** SIGSTOP and SIGCONT: the whole process, valgrind and every thread of the server, stands still between them. */
  hold: Hold
  stop: () => Promise<void>
}

/** Whether valgrind and callgrind_control are on the PATH. */
export async function callgrindAvailable (): Promise<boolean> {
  return (await onPath('valgrind')) && (await onPath('callgrind_control'))
}

/** Starts `node <script>` under callgrind with instrumentation off, on a free port. */
export async function startCountedServer (script: string, env: Record<string, string>): Promise<CountedServer> {
  // Where callgrind writes its profile at exit; nothing reads it.
  const directory = await mkdtemp(join(tmpdir(), 'eventcache-callgrind-'))
  const valgrind = [
    '--tool=callgrind',
    '--quiet',
    '--instr-atstart=no',
    `--callgrind-out-file=${join(directory, 'callgrind.out')}`,
    process.execPath,
    ...NODE_FLAGS
  ]
  let server: ServerProcess
  try {
    const options = { command: 'valgrind', prefix: valgrind, readyWithinMs: 120_000 }
    server = await startServer(script, { ...env, ...VGDB_NAMES }, options)
  } catch (error) {
    await rm(directory, { recursive: true, force: true })
    throw error
  }
  const control = async (...args: string[]) => {
    const options = { env: { ...process.env, ...VGDB_NAMES } }
    const { stdout } = await execFileAsync('callgrind_control', [...args, String(server.pid)], options)
    // callgrind_control exits 0 even when it found no such process.
    if (!stdout.includes(`PID ${server.pid}`)) throw new Error(`callgrind_control ${args.join(' ')}: ${stdout.trim()}`)
    return stdout
  }
  return {
    url: server.url,
    instrument: async () => {
      await control('--instr=on')
    },
    count: async (work) => {
      await control('--zero')
      await work()
      return threadTotals(await control('-e'))
    },
    hold: {
      pause: () => process.kill(server.pid, 'SIGSTOP'),
      resume: () => process.kill(server.pid, 'SIGCONT')
    },
    stop: async () => {
      await server.stop()
      await rm(directory, { recursive: true, force: true })
    }
  }
}

/** The sum of the per-thread lines (`Th 1  50,174,255`) that `callgrind_control -e` prints under `Totals:`. */
export function threadTotals (stdout: string): number {
  const threads = [...stdout.matchAll(/^\s*Th\s+\d+\s+([\d,]+)\s*$/gm)]
  if (threads.length === 0) throw new Error(`callgrind_control -e printed no thread totals: ${stdout.trim()}`)
  return threads.reduce((sum, [, count]) => sum + Number(count!.replaceAll(',', '')), 0)
}
