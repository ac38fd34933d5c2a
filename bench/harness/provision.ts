import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import pg from 'pg'
import { freePort, migrate, seed, startEmbeddedPostgres } from '../product.ts'

const execFileAsync = promisify(execFile)

export interface Provisioned {
  /** A server to create the bench databases on. */
  postgresUrl: string
  redisUrl: string | undefined
  notes: string[]
  release: () => Promise<void>
}

/** What the app would use: DATABASE_URL or the embedded PostgreSQL; REDIS_URL, else a redis-server of our own. */
export async function provision (): Promise<Provisioned> {
  const notes: string[] = []
  const releases: Array<() => Promise<void>> = []
  let postgresUrl = process.env.DATABASE_URL
  if (postgresUrl) {
    notes.push('PostgreSQL: DATABASE_URL')
  } else {
    const embedded = await startEmbeddedPostgres('.data/bench-postgres')
    postgresUrl = embedded.url
    releases.push(embedded.stop)
    notes.push('PostgreSQL: embedded (DATABASE_URL unset)')
  }

  let redisUrl = process.env.REDIS_URL
  if (redisUrl) {
    notes.push('Redis: REDIS_URL')
  } else if (await onPath('redis-server')) {
    const port = await freePort()
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    const child = spawn('redis-server', args, { stdio: 'ignore' })
    redisUrl = `redis://127.0.0.1:${port}`
    releases.push(async () => {
      child.kill('SIGTERM')
      await once(child, 'exit')
    })
    await waitForRedis(redisUrl)
    notes.push('Redis: a redis-server started for the bench (REDIS_URL unset)')
  } else {
    notes.push('Redis: none (REDIS_URL unset and no redis-server on the PATH): the redis rows are left out')
  }

  return {
    postgresUrl,
    redisUrl,
    notes,
    release: async () => {
      for (const release of releases.reverse()) await release()
    }
  }
}

/** A fresh database seeded with `events` events of `guestsPerEvent` guests each. */
export async function prepareDataset (postgresUrl: string, events: number, guestsPerEvent: number): Promise<string> {
  const name = `eventcache_bench_${events}_${guestsPerEvent}`
  const admin = new pg.Client({ connectionString: postgresUrl })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(postgresUrl)
  url.pathname = `/${name}`
  const pool = new pg.Pool({ connectionString: url.toString() })
  try {
    await migrate(pool)
    await seed(pool, { events, guestsPerEvent, truncate: false })
  } finally {
    await pool.end()
  }
  return url.toString()
}

/** Drops a dataset made by prepareDataset (a million-guest database is not left behind). */
export async function dropDataset (postgresUrl: string, databaseUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: postgresUrl })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${new URL(databaseUrl).pathname.slice(1)} WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}

/** Whether `command` is on the PATH. */
export async function onPath (command: string): Promise<boolean> {
  return execFileAsync('sh', ['-c', `command -v ${command}`]).then(() => true, () => false)
}

async function waitForRedis (url: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    client.on('error', () => {})
    const ok = await client.connect().then(() => client.ping()).then(() => true, () => false)
    client.disconnect()
    if (ok) return
    await sleep(50)
  }
  throw new Error(`redis-server did not answer at ${url}`)
}
