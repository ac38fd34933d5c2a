import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { freePort } from '../../src/free-port.ts'

const execFileAsync = promisify(execFile)

/** A throw-away redis-server a test owns: it can stop it, start it again on the same port, pause it. */
export interface RedisServer {
  url: string
  port: number
  stop: () => Promise<void>
  start: () => Promise<void>
  /**
   * SIGSTOP / SIGCONT: the server stops answering without closing a connection, as a host that
   * froze or a process stopped in a debugger does (CLIENT PAUSE still answers some commands).
   */
  freeze: () => void
  thaw: () => void
  /** The server's process id while it runs (a test may signal it). */
  pid: () => number | undefined
  /** Runs one command on a fresh connection (which the server's own clients never share). */
  command: (...args: Array<string | number>) => Promise<unknown>
}

/**
 * @param options.port a port of the test's choosing; options.started false: do not start it yet
 * @param options.realtime true: where the OS allows it, the server is scheduled ahead of the machine's
 *   other work (`chrt --fifo`), so a busy machine does not make it slow; elsewhere it runs as usual
 */
export async function startRedisServer (
  t: Test,
  options: { port?: number, started?: boolean, realtime?: boolean } = {}
): Promise<RedisServer> {
  const port = options.port ?? await freePort()
  let child: ChildProcess | undefined

  const start = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    child = spawn('redis-server', [...args, '--loglevel', 'warning'], { stdio: 'ignore' })
    if (options.realtime) await execFileAsync('chrt', ['--fifo', '--pid', '10', String(child.pid)]).catch(() => {})
    for (let attempt = 0; attempt < 100; attempt++) {
      if (await command('PING').then(() => true, () => false)) return
      await sleep(20)
    }
    throw new Error(`redis-server did not start on port ${port}`)
  }
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  const command = (...args: Array<string | number>) => redisCommand(port, '127.0.0.1', ...args)
  const signal = (name: NodeJS.Signals) => () => { child?.kill(name) }

  if (options.started !== false) await start()
  t.teardown(stop)
  const pid = () => child?.exitCode === null && child.signalCode === null ? child.pid : undefined
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    freeze: signal('SIGSTOP'),
    thaw: signal('SIGCONT'),
    pid,
    command
  }
}

/** Redis for tests that just need one: REDIS_URL when set (CI), else a throw-away server. */
export async function testRedisUrl (t: Test): Promise<string> {
  return process.env.REDIS_URL ?? (await startRedisServer(t)).url
}

/** One command on a connection of its own (never one an app under test shares), then closed. */
export async function redisCommand (port: number, host: string, ...args: Array<string | number>): Promise<unknown> {
  const client = new Redis(port, host, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectTimeout: 1_000
  })
  client.on('error', () => {})
  try {
    await client.connect()
    const [name, ...rest] = args
    return await client.call(String(name), ...rest)
  } finally {
    client.disconnect()
  }
}
