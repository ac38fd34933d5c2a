import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'

/** The app's entry in a process of its own, and every line it logged so far. */
export interface ServerProcess { process: ChildProcess, url: string, logs: string[] }

/**
 * Starts src/server.ts as `npm start` starts the build (a process of its own, the environment
 * given and nothing else), on a free port; resolves once it logs that it listens.
 */
export async function startServerProcess (t: Test, env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const logs: string[] = []
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line))
  // Keep reading stdout for the whole life of the process: a closed pipe would make its logger fail.
  return await new Promise<ServerProcess>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line)
      const listening = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (listening) resolve({ process: child, url: listening[1]!, logs })
    })
    child.once('exit', () => reject(new Error(`server exited before listening:\n${logs.join('\n')}`)))
  })
}

/** The process's exit code, and how many milliseconds after the call it came. */
export async function exitOf (child: ChildProcess): Promise<{ code: number | null, ms: number }> {
  const started = Date.now()
  const [code] = child.exitCode !== null ? [child.exitCode] : await once(child, 'exit')
  return { code, ms: Date.now() - started }
}
