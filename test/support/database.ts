import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'
import { startEmbeddedPostgres, stopEmbeddedPostgres } from '../../src/db/embedded-postgres.ts'
import { poolCloser } from '../../src/db/pool-closer.ts'
import type { TestApp } from './app.ts'

/** Where the test suite keeps its embedded PostgreSQL when DATABASE_URL is unset. */
export const TEST_POSTGRES_DIR = '.data/test-postgres'

/**
 * The server tests create their databases on: DATABASE_URL when set (CI uses the machine's
 * PostgreSQL), otherwise the suite's embedded server (started once by test/setup/before.ts).
 */
export async function serverUrl (): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL
  return (await startEmbeddedPostgres(TEST_POSTGRES_DIR)).url
}

/**
 * A data directory of the test's own for an embedded PostgreSQL that a server process it starts will
 * run: within reach of the `postgres` user (the server's, as root). When the test ends, whatever
 * server was left running on it is stopped before its files go.
 */
export async function embeddedDataDir (t: Test, label: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), `eventcache-${label}-`))
  await chmod(root, 0o755)
  const dataDir = join(root, 'postgres')
  t.teardown(async () => {
    await stopEmbeddedPostgres(dataDir)
    await rm(root, { recursive: true, force: true })
  })
  return dataDir
}

/** A fresh, empty database of its own for a test, dropped when the test ends. */
export async function createTestDatabase (t: Test): Promise<string> {
  const admin = await serverUrl()
  const name = `eventcache_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await withClient(admin, (client) => client.query(`CREATE DATABASE ${name}`))
  t.teardown(() => withClient(admin, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
  const url = new URL(admin)
  url.pathname = `/${name}`
  return url.toString()
}

/** `work` on a connection of its own to `url`, closed afterwards. */
export async function withClient<T> (url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * A pool of the test's own on `url`, ended when the test ends, before its database is dropped: its
 * connections closed (see poolCloser), so that the drop (WITH FORCE) terminates none under its client.
 */
export function testPool (t: Test, config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config)
  const closer = poolCloser(pool)
  t.teardown(() => closer.close())
  return pool
}

/** Row counts straight from PostgreSQL, to prove a rejected request wrote nothing. */
export async function countRows (app: TestApp): Promise<{ events: number, guests: number }> {
  const { rows } = await app.pg.pool.query<{ events: number, guests: number }>(
    'SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM guests)::int AS guests'
  )
  return rows[0] as { events: number, guests: number }
}

/** How many of the events `ids` the database at `url` holds: acknowledged writes must all be there. */
export async function storedEvents (url: string, ids: number[]): Promise<number> {
  return withClient(url, async (client) => {
    const sql = 'SELECT count(*)::int AS n FROM events WHERE id = ANY($1)'
    const { rows } = await client.query<{ n: number }>(sql, [ids])
    return rows[0]!.n
  })
}

/** What the database holds: a digest of every row of events and guests, and the ids that exist. */
export interface DatabaseState {
  digest: string
  ids: { events: number[], guests: number[] }
}

/**
 * The state of the app's database in one query: a refused write must leave the digest as it was
 * (every column of every row, in id order, so a changed `updated_at` counts too).
 */
export async function databaseState (app: TestApp): Promise<DatabaseState> {
  const { rows } = await app.pg.pool.query<{ digest: string, events: number[], guests: number[] }>(`
    SELECT md5(coalesce((SELECT string_agg(e::text, E'\\n' ORDER BY e.id) FROM events e), '') || E'\\f' ||
               coalesce((SELECT string_agg(g::text, E'\\n' ORDER BY g.id) FROM guests g), '')) AS digest,
           coalesce((SELECT array_agg(id ORDER BY id) FROM events), '{}') AS events,
           coalesce((SELECT array_agg(id ORDER BY id) FROM guests), '{}') AS guests`)
  const { digest, events, guests } = rows[0]!
  return { digest, ids: { events, guests } }
}
