import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { EmbeddedPostgresError, failureReason } from './embedded-postgres-error.ts'

const execFileAsync = promisify(execFile)

/** The system user the embedded server runs as, when it is not this process's own. */
export interface ServerOwner { uid: number, gid: number }

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` system user. */
export async function serverOwner (): Promise<ServerOwner | undefined> {
  if (process.getuid?.() !== 0) return undefined
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']),
      execFileAsync('id', ['-g', 'postgres'])
    ])
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
  } catch {
    throw new EmbeddedPostgresError('running as root, the embedded PostgreSQL needs a `postgres` system user ' +
      'to run as: create one (useradd --system postgres), or set DATABASE_URL to use your own server')
  }
}

/**
 * Why `owner` cannot run `binary --version`, or undefined when it can. Running it is the honest
 * test: it needs every folder above the binary, the binary itself and the libraries it loads.
 */
export async function cannotRun (owner: ServerOwner, binary: string): Promise<string | undefined> {
  try {
    await execFileAsync(binary, ['--version'], { ...owner, timeout: 10_000 })
    return undefined
  } catch (error) {
    return failureReason(error)
  }
}

/** Whether `owner` can enter `directory` (search permission on it and on every folder above it). */
export async function canEnter (owner: ServerOwner, directory: string): Promise<boolean> {
  try {
    await execFileAsync('/bin/sh', ['-c', 'cd -- "$1"', 'sh', directory], { ...owner, timeout: 10_000 })
    return true
  } catch {
    return false
  }
}
