import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../product.ts'

/** A server under test, in a process of its own (the load generator never shares its event loop). */
export interface ServerProcess {
  url: string
  pid: number
  /** User + system CPU the process has used so far, in microseconds (from /proc/<pid>/stat). */
  cpuMicros: () => Promise<number>
  stop: () => Promise<void>
}

const CLOCK_TICKS_PER_SECOND = 100

/** CPU used so far by all of `servers` together, in microseconds (diff two readings for a window). */
export async function serversCpuMicros (servers: readonly ServerProcess[]): Promise<number> {
  return (await Promise.all(servers.map((server) => server.cpuMicros()))).reduce((sum, micros) => sum + micros, 0)
}

export interface StartOptions {
  /** Run `command ...prefix script` instead of `node script` (valgrind's arguments, then node's). */
  command?: string
  prefix?: readonly string[]
  readyPath?: string
  readyWithinMs?: number
}

/** Starts `node <script>` with `env` on a free port and waits until `readyPath` answers. */
export async function startServer (
  script: string,
  env: Record<string, string>,
  options: StartOptions = {}
): Promise<ServerProcess> {
  const { command = process.execPath, prefix = [], readyPath = '/health/live', readyWithinMs = 30_000 } = options
  const port = await freePort()
  const child: ChildProcess = spawn(command, [...prefix, script], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env
    },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  const exited = once(child, 'exit')
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode} before serving`)
    if (await fetch(url + readyPath).then((response) => response.ok, () => false)) break
    if (attempt * 100 > readyWithinMs) {
      child.kill('SIGKILL')
      throw new Error(`${script} did not answer ${readyPath} within ${readyWithinMs / 1000} s`)
    }
    await sleep(100)
  }
  return {
    url,
    pid: child.pid!,
    cpuMicros: async () => {
      // Fields after the command name: state is field 3, utime 14, stime 15 (in clock ticks).
      const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) * (1_000_000 / CLOCK_TICKS_PER_SECOND)
    },
    stop: async () => {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))])
    }
  }
}
