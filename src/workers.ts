import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import type { Config } from './config.ts'
import { openDatabase } from './db/connection.ts'
import { GRACE_MS } from './graceful-close.ts'
import { loggerOptions } from './logger.ts'

/** How many processes WORKERS asks for. */
export function workerCount (workers: Config['WORKERS']): number {
  return workers === 'auto' ? availableParallelism() : workers
}

/** Crashes further apart than this are unrelated: each one is replaced at once. */
export const CRASH_WINDOW_MS = 60_000

/**
 * How long to wait before replacing a worker that crashed, given how many crashed within
 * CRASH_WINDOW_MS (this one included): none for the first, then 1 s doubling up to 30 s, so a
 * worker that keeps dying costs a fork now and then rather than a core spent booting.
 */
export function restartDelay (recentCrashes: number): number {
  return recentCrashes <= 1 ? 0 : Math.min(30_000, 1_000 * 2 ** (recentCrashes - 2))
}

/**
 * The cluster primary: serves nothing itself. It starts the embedded PostgreSQL when DATABASE_URL
 * is unset (once, for every worker), forks the workers, which run server.ts's normal path and
 * share HOST:PORT through node:cluster, replaces a worker that dies, and on a shutdown signal
 * forwards it to every worker and exits once they all have.
 *
 * A worker that exits before it ever listened is a configuration or environment problem (a bad
 * DATABASE_URL, a migration failing) that a new fork would only repeat: the primary stops
 * everything and exits non-zero, and the worker's own error is in the output above its line.
 */
export async function runPrimary (config: Config): Promise<void> {
  const log = pino(loggerOptions(config))
  const database = config.DATABASE_URL ? undefined : await openDatabase(config, (message) => log.info(message))
  // The workers inherit the primary's environment; this is what they must not decide for themselves.
  const env = database ? { DATABASE_URL: database.url } : {}

  const running = new Set<Worker>()
  const listened = new Set<Worker>()
  const restarts = new Set<NodeJS.Timeout>()
  let crashes: number[] = []
  let stopping = false
  let failure: Error | undefined
  let unclean = 0
  let allExited = (): void => {}

  const fork = (): void => {
    const worker = cluster.fork(env)
    running.add(worker)
    worker.on('listening', (address) => {
      listened.add(worker)
      log.info({ worker: worker.id, workerPid: worker.process.pid, port: address.port }, 'worker started')
    })
    worker.on('exit', (code, signal) => onExit(worker, code, signal))
  }

  const onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    running.delete(worker)
    const ran = listened.delete(worker)
    // `pid` is the primary's own (pino's); the worker's is `workerPid`.
    const fields = { worker: worker.id, workerPid: worker.process.pid, code, signal }
    if (stopping) {
      // A worker still booting had nothing to drain: the shutdown signal's default action is fine.
      const clean = code === 0 || !ran
      if (!clean) unclean++
      log[clean ? 'info' : 'error'](fields, 'worker exited')
      if (running.size === 0) allExited()
    } else if (!ran) {
      log.error(fields, 'worker exited before it listened: stopping (its error is above)')
      failure = new Error(`worker ${worker.id} exited before it listened (code ${code}, signal ${signal})`)
      closer.close()
    } else {
      const now = Date.now()
      crashes = [...crashes.filter((at) => now - at < CRASH_WINDOW_MS), now]
      const delay = restartDelay(crashes.length)
      log.warn({ ...fields, restartInMs: delay }, 'worker exited unexpectedly: replacing it')
      const timer = setTimeout(() => {
        restarts.delete(timer)
        fork()
      }, delay)
      restarts.add(timer)
    }
  }

  const killAll = (): void => {
    for (const worker of running) worker.process.kill('SIGKILL')
  }

  const closer = closeWithGrace({
    delay: GRACE_MS,
    logger: log,
    onTimeout: () => {
      log.error({ running: running.size }, `workers still running after ${GRACE_MS} ms: killing them`)
      killAll()
    },
    onSecondSignal: (signal) => {
      log.error({ signal }, 'second signal: killing the workers')
      killAll()
    }
  }, async ({ err, signal }) => {
    stopping = true
    for (const timer of restarts) clearTimeout(timer)
    if (err) log.error({ err }, 'closing after an uncaught error')
    else if (signal) log.info({ signal }, 'closing')
    const exited = new Promise<void>((resolve) => { allExited = resolve })
    if (running.size === 0) allExited()
    // Each worker drains as a single process would (close-with-grace, Connection: close).
    for (const worker of running) worker.process.kill(signal ?? 'SIGTERM')
    await exited
    await database?.release()
    if (failure) throw failure
    if (unclean > 0) throw new Error(`${unclean} worker(s) did not close cleanly`)
  })

  const count = workerCount(config.WORKERS)
  log.info({ workers: count, host: config.HOST, port: config.PORT }, 'starting workers')
  for (let i = 0; i < count; i++) fork()
}
