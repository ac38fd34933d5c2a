import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import os from 'node:os'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import pg from 'pg'

const execFileAsync = promisify(execFile)

export interface Environment {
  machine: { cpu: string, cores: number, memoryGiB: number, os: string }
  node: string
  versions: Record<string, string>
  /** Short hash of HEAD. */
  commit: string
  /** Tracked files differed from the commit when the run started (absent in older result files). */
  dirty?: boolean
}

/** Where and with what a run was measured, for the results file and the report's header. */
export async function describeEnvironment (postgresUrl: string, redisUrl: string | undefined): Promise<Environment> {
  const cpus = os.cpus()
  const versions: Record<string, string> = {}
  for (const name of ['fastify', 'ioredis', 'pg', 'autocannon']) versions[name] = await packageVersion(name)
  versions.postgresql = await pgVersion(postgresUrl)
  if (redisUrl) versions.redis = await redisVersion(redisUrl)
  return {
    machine: {
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: await operatingSystem()
    },
    node: process.version,
    versions,
    commit: await git(['rev-parse', '--short', 'HEAD']).then((stdout) => stdout.trim(), () => 'unknown'),
    // Untracked files are left out, as `git describe --dirty` leaves them out.
    dirty: await git(['status', '--porcelain', '--untracked-files=no']).then((changes) => changes !== '', () => false)
  }
}

async function git (args: string[]): Promise<string> {
  return (await execFileAsync('git', args)).stdout
}

/** The kernel, and the distribution where /etc/os-release names it. */
async function operatingSystem (): Promise<string> {
  const kernel = `${os.type()} ${os.release()}`
  const release = await readFile('/etc/os-release', 'utf8').catch(() => '')
  const name = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1]
  return name ? `${kernel} (${name})` : kernel
}

async function packageVersion (name: string): Promise<string> {
  // From the bench's build, dist/bench/harness/: the repository's node_modules.
  const path = new URL(`../../../node_modules/${name}/package.json`, import.meta.url)
  return readFile(path, 'utf8').then((text) => (JSON.parse(text) as { version: string }).version, () => 'unknown')
}

async function pgVersion (url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url })
  try {
    await client.connect()
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown'
  } catch {
    return 'unknown'
  } finally {
    await client.end().catch(() => {})
  }
}

async function redisVersion (url: string): Promise<string> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  try {
    await client.connect()
    return /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown'
  } catch {
    return 'unknown'
  } finally {
    client.disconnect()
  }
}
