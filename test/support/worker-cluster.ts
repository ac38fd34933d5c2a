import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { freePort } from '../../src/free-port.ts'
import { eventInput } from './fixtures.ts'

const execFileAsync = promisify(execFile)

/** A JSON log line of the primary or of a worker: `pid` tells which. */
export interface LogEntry {
  pid: number
  msg: string
  time: number
  /** The primary's lines about a worker: its number and pid. */
  worker?: number
  workerPid?: number
  [field: string]: unknown
}

export interface Exit { code: number | null, signal: NodeJS.Signals | null, at: number }

/** `npm start` with WORKERS set, as a separate process tree: the primary and its workers. */
export interface Cluster {
  primary: ChildProcess
  port: number
  base: string
  /** Every line the tree printed (stdout and stderr, JSON or not), in arrival order. */
  output: string[]
  logs: LogEntry[]
  exited: Promise<Exit>
  /**
   * The first log entry (from index `from` of `logs`) that matches, or a rejection naming `what`
   * (the line awaited) after `timeoutMs`.
   */
  waitForLog: (what: string, match: (entry: LogEntry) => boolean, timeoutMs: number, from?: number) => Promise<LogEntry>
  /** The primary's live node children, from `ps`: what the operating system sees, not what the primary says. */
  workerPids: () => Promise<number[]>
}

/** Worker boots take 5–15 s on a loaded 2-core machine (tsx compiles the app in each process). */
export const BOOT_TIMEOUT_MS = 60_000

/**
 * Starts src/server.ts with WORKERS=2 on a free port and, unless `ready: false`, waits until the
 * primary has logged every worker as started. `detached`: in a process group of its own, so a test
 * can signal the whole group as a terminal's Ctrl-C does.
 */
export async function startCluster (
  t: Test,
  env: Record<string, string>,
  options: { ready?: boolean, detached?: boolean } = {}
): Promise<Cluster> {
  const port = await freePort()
  const workers = Number(env.WORKERS ?? 2)
  const primary = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      WORKERS: String(workers),
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false
  })
  const exited = new Promise<Exit>((resolve) => {
    primary.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }))
  })
  t.teardown(async () => {
    if (primary.exitCode !== null || primary.signalCode !== null) return
    // The workers leave on their own once the primary's IPC channel closes; kill them by pid anyway.
    const pids = await childPids(primary.pid!)
    primary.kill('SIGKILL')
    for (const pid of pids) killQuietly(pid)
    await exited
  })

  const output: string[] = []
  const logs: LogEntry[] = []
  // Keep reading both pipes for the whole life of the tree: a closed pipe would make a logger fail.
  const readers = [primary.stdout!, primary.stderr!].map((stream) => createInterface({ input: stream }))
  // Lines can still arrive after the primary's exit event: the output is complete once both pipes close.
  const drained = Promise.all(readers.map((reader) => once(reader, 'close')))
  for (const reader of readers) {
    reader.on('line', (line) => {
      output.push(line)
      if (line.startsWith('{')) {
        try {
          logs.push(JSON.parse(line) as LogEntry)
        } catch {}
      }
    })
  }

  let gone = false
  drained.then(() => { gone = true }, () => {})
  // Polls every 50 ms; gives up at the deadline, or once the output has ended without a match.
  const waitUntil = async <T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = check()
      if (found !== undefined) return found
      if (Date.now() >= deadline || gone) {
        const why = gone ? 'the cluster exited and said nothing more' : `not within ${timeoutMs} ms`
        throw new Error(`${what}: ${why}; its output:\n${output.slice(-40).join('\n')}`)
      }
      await sleep(50)
    }
  }
  const waitForLog = (what: string, match: (entry: LogEntry) => boolean, timeoutMs: number, from = 0) =>
    waitUntil(what, () => logs.slice(from).find(match), timeoutMs)

  const cluster: Cluster = {
    primary,
    port,
    base: `http://127.0.0.1:${port}`,
    output,
    logs,
    exited,
    waitForLog,
    workerPids: () => childPids(primary.pid!)
  }
  if (options.ready !== false) {
    const allStarted = () => logs.filter(isStarted).length >= workers || undefined
    await waitUntil(`the primary logging ${workers} workers started`, allStarted, BOOT_TIMEOUT_MS)
  }
  return cluster
}

export function isStarted (entry: LogEntry): boolean {
  return entry.msg === 'worker started'
}

/** The primary's children that are node processes: its workers (the embedded PostgreSQL is not one). */
export async function childPids (pid: number, command = 'node'): Promise<number[]> {
  const ps = execFileAsync('ps', ['--ppid', String(pid), '-o', 'pid=,comm='])
  const { stdout } = await ps.catch(() => ({ stdout: '' }))
  return stdout.split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, name]) => name === command)
    .map(([pid]) => Number(pid))
    .sort((a, b) => a - b)
}

export function killQuietly (pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal)
  } catch {}
}

/** Whether `pid` still runs: a zombie (dead, waiting for its new parent to reap it) does not. */
export async function isAlive (pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Waits (up to `timeoutMs`) until none of `pids` runs; returns those still running. */
export async function stillRunning (pids: number[], timeoutMs = 5_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const alive = (await Promise.all(pids.map(async (pid) => await isAlive(pid) ? [pid] : []))).flat()
    if (alive.length === 0 || Date.now() > deadline) return alive
    await sleep(50)
  }
}

export interface Reply { status: number, body: string, headers: http.IncomingHttpHeaders, localPort: number }

/**
 * One HTTP request with node:http, so the test controls the connection: `agent: false` opens a new
 * one (which node:cluster hands to the next worker), a keep-alive agent with one socket pins every
 * request to the worker that accepted it. The local port names the connection in the server's log.
 */
export async function request (
  url: string,
  options: { method?: string, body?: unknown, agent?: http.Agent | false } = {}
): Promise<Reply> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  return await new Promise<Reply>((resolve, reject) => {
    const req = http.request(url, {
      method: options.method ?? 'GET',
      agent: options.agent ?? false,
      headers: payload === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      signal: AbortSignal.timeout(10_000)
    }, (res) => {
      // Read now: a keep-alive agent takes the socket back before 'end'.
      const localPort = res.socket.localPort ?? 0
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString()
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers, localPort })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/**
 * The pid of the worker that served a request on connection `localPort`, from its request log line
 * (Fastify logs the client's port). `from`: the log length before the request, as ports get reused.
 */
export async function servedBy (cluster: Cluster, localPort: number, from: number): Promise<number> {
  const onThatConnection = (entry: LogEntry) =>
    entry.msg === 'incoming request' && (entry.req as { remotePort?: number } | undefined)?.remotePort === localPort
  const what = `the request log line of the connection from port ${localPort}`
  const entry = await cluster.waitForLog(what, onThatConnection, 10_000, from)
  return entry.pid
}

/**
 * A keep-alive connection to each of `workers` workers, by pid: an agent with one socket sends
 * every request to the worker that accepted its connection. Ten new connections at most; the
 * agents are destroyed when the test ends.
 */
export async function connectionPerWorker (t: Test, cluster: Cluster, workers = 2): Promise<Map<number, http.Agent>> {
  const pinned = new Map<number, http.Agent>()
  t.teardown(() => { for (const agent of pinned.values()) agent.destroy() })
  for (let attempt = 0; attempt < 10 && pinned.size < workers; attempt++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const from = cluster.logs.length
    const reply = await request(`${cluster.base}/health/live`, { agent })
    const pid = await servedBy(cluster, reply.localPort, from)
    if (pinned.has(pid)) agent.destroy()
    else pinned.set(pid, agent)
  }
  return pinned
}

/** POST /events (the example event) through `agent`'s connection: asserts the 201, returns the id. */
export async function postEventVia (t: Test, cluster: Cluster, agent: http.Agent): Promise<number> {
  const created = await request(`${cluster.base}/events`, { method: 'POST', body: eventInput(), agent })
  t.equal(created.status, 201, 'POST /events answers 201')
  return (JSON.parse(created.body) as { id: number }).id
}
