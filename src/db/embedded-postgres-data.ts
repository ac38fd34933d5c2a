import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, chown, lstat, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { EmbeddedPostgresError } from './embedded-postgres-error.ts'
import { canEnter, type ServerOwner } from './embedded-postgres-owner.ts'

const WHAT_TO_DO = 'set EMBEDDED_POSTGRES_DIR to a folder the postgres user can reach, ' +
  'or set DATABASE_URL to use your own server'

/**
 * Where the data of `configured` lives when the server's user cannot reach it: a folder of its
 * own in /var/tmp (kept across reboots, unlike /tmp on many systems), named from a hash of the
 * configured path, so each checkout finds the same data again at every start.
 */
export function relocatedDataDir (configured: string): string {
  const path = resolve(configured)
  const hash = createHash('sha256').update(path).digest('hex').slice(0, 12)
  const base = existsSync('/var/tmp') ? '/var/tmp' : tmpdir()
  return join(base, `eventcache-${hash}`, basename(path))
}

/** The data directory the server uses: `configured` when `owner` can reach it, else its relocated one. */
export async function dataDirFor (configured: string, owner: ServerOwner | undefined): Promise<string> {
  if (!owner) return configured
  // Only the data directory itself is private; its parents must stay traversable by the server's user.
  await mkdir(dirname(configured), { recursive: true })
  return await canEnter(owner, dirname(configured)) ? configured : relocatedDataDir(configured)
}

/** Creates `dataDir` (private, owned by the server's user) and, for a relocated one, the folder it sits in. */
export async function makeDataDir (dataDir: string, relocated: boolean, owner: ServerOwner | undefined): Promise<void> {
  if (relocated) await makeSharedFolder(dirname(dataDir), owner)
  else await mkdir(dirname(dataDir), { recursive: true })
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  if (owner) await chown(dataDir, owner.uid, owner.gid)
}

/**
 * The folder in /var/tmp that holds a relocated data directory and its log. /var/tmp is everyone's:
 * a folder of that name that another user made (or a link) is refused, never written through.
 */
async function makeSharedFolder (folder: string, owner: ServerOwner | undefined): Promise<void> {
  try {
    await mkdir(folder, { mode: 0o755 })
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') {
      throw new EmbeddedPostgresError(`could not create ${folder} for the embedded PostgreSQL data ` +
        `(${(error as Error).message}): ${WHAT_TO_DO}`)
    }
  }
  const info = await lstat(folder)
  if (!info.isDirectory() || info.uid !== process.getuid?.()) {
    throw new EmbeddedPostgresError(`${folder} exists but this user did not make it, so the embedded PostgreSQL ` +
      `will not keep its data there: remove it, or ${WHAT_TO_DO}`)
  }
  await chmod(folder, 0o755) // whatever the umask: the server's user must enter it
  if (owner && !await canEnter(owner, folder)) {
    throw new EmbeddedPostgresError('the postgres user can reach neither the configured data folder ' +
      `nor ${folder}: ${WHAT_TO_DO}`)
  }
}
