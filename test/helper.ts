import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { buildApp, type BuildOptions } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts'
import { usable } from '../plugins/redis.ts'
import type { Cluster, Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import { testClusterNodes } from './redis-cluster.ts'
import { testRedisUrl } from './redis-server.ts'

export type TestApp = Awaited<ReturnType<typeof buildApp>>

export type CacheTestMode = 'memory' | 'redis' | 'tiered' | 'cluster'
/**
 * The cache suites run once per store ('cluster': the Redis store on a Redis Cluster).
 * `npm test` runs memory, redis and tiered; `npm run test:cluster` sets CACHE_TEST_MODES=cluster and
 * runs the same suites on a throw-away cluster one file at a time (see the README's Tests section).
 */
export const CACHE_TEST_MODES = (process.env.CACHE_TEST_MODES ?? 'memory,redis,tiered').split(',') as CacheTestMode[]

/** Environment for a cache mode, with a key prefix of its own so tests can share one Redis. */
export async function cacheEnv (t: Test, mode: CacheTestMode, redisUrl?: string): Promise<Record<string, string>> {
  const prefix = `test-${process.pid}-${randomBytes(4).toString('hex')}`
  if (mode === 'memory') return { CACHE_MODE: 'memory', CACHE_PREFIX: prefix }
  // These suites assert exact HIT/MISS outcomes, which hold only while Redis answers: on a loaded
  // CI machine a 50 ms command can time out and turn into a (correct) BYPASS. The failure suites
  // set the production timeout themselves and assert what a timeout does.
  if (mode === 'cluster') return { CACHE_MODE: 'redis', REDIS_CLUSTER_NODES: await testClusterNodes(), CACHE_PREFIX: prefix, REDIS_COMMAND_TIMEOUT_MS: '1000' }
  return { CACHE_MODE: mode, REDIS_URL: redisUrl ?? await testRedisUrl(t), CACHE_PREFIX: prefix, REDIS_COMMAND_TIMEOUT_MS: '1000' }
}

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

/** Collects an app's log lines (pass as `logStream`, with a LOG_LEVEL that lets them through). */
export function logCollector () {
  const lines: Array<Record<string, unknown>> = []
  return { lines, stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } }
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

/**
 * The app as server.ts builds it, from an environment: on a database of its own unless the test
 * passes DATABASE_URL (to share one between instances), quiet, closed when the test ends.
 */
export async function buildTestApp (t: Test, env: Record<string, string> = {}, options: BuildOptions = {}): Promise<TestApp> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    PUBLIC_URL: 'http://api.test',
    ...env,
    DATABASE_URL: env.DATABASE_URL ?? await createTestDatabase(t)
  })
  const app = await buildApp(config, options)
  t.teardown(() => app.close())
  await app.ready()
  if (app.hasDecorator('redis')) await settled(app.redis)
  return app
}

/**
 * The app waits at most a second at boot for Redis (or a cluster and all its masters), then serves
 * BYPASS until it is there: right for production, but on a loaded CI machine a connection can
 * take longer, and the suites asserting exact HIT/MISS would see a (correct) BYPASS. So a test app
 * is handed over once Redis is usable, or clearly down (refused: a test that wants it down), or
 * after 5 s.
 */
async function settled (redis: Redis | Cluster): Promise<void> {
  const state = { ready: false }
  usable(redis).then(() => { state.ready = true }, () => {})
  for (let waited = 0; waited < 5_000 && !state.ready && !['reconnecting', 'close', 'end'].includes(redis.status); waited += 20) await sleep(20)
}

export async function withClient<T> (url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** What a new user would post: the article's example event, with a date-only date. */
export function eventInput (overrides: Record<string, unknown> = {}) {
  return {
    name: 'DjangoCon US 2020',
    date: '2020-07-15',
    location: 'San Diego, CA',
    description: 'DjangoCon US is the annual conference for the Django community.',
    ...overrides
  }
}

export async function postEvent (app: TestApp, overrides: Record<string, unknown> = {}) {
  const response = await app.inject({ method: 'POST', url: '/events', payload: eventInput(overrides) })
  if (response.statusCode !== 201) throw new Error(`POST /events answered ${response.statusCode}: ${response.body}`)
  return response.json<{ id: number, name: string, date: string }>()
}

export async function postGuest (app: TestApp, eventId: number, overrides: Record<string, unknown> = {}) {
  const response = await app.inject({
    method: 'POST',
    url: '/guests',
    payload: { event_id: eventId, name: 'Ada Lovelace', email: 'ada@example.com', ...overrides }
  })
  if (response.statusCode !== 201) throw new Error(`POST /guests answered ${response.statusCode}: ${response.body}`)
  return response.json<{ id: number, name: string, event: { id: number } }>()
}

/** Row counts straight from PostgreSQL, to prove a rejected request wrote nothing. */
export async function countRows (app: TestApp): Promise<{ events: number, guests: number }> {
  const { rows } = await app.pg.pool.query<{ events: number, guests: number }>(
    'SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM guests)::int AS guests'
  )
  return rows[0] as { events: number, guests: number }
}

/** Reads `url` every 100 ms until it is a HIT: how long that took, or Infinity after `withinMs`. */
export async function waitForHit (app: TestApp, url: string, withinMs: number): Promise<number> {
  return until(async () => (await app.inject(url)).headers['x-cache'] === 'HIT', withinMs, 100).catch(() => Infinity)
}

/**
 * Reads checked against the state they must show: every outcome counted (`200 HIT`, `200 BYPASS`,
 * …), and each read whose `name` was not the one expected kept (`200 HIT: old (/events/1, expected new)`).
 */
export function readLog () {
  const outcomes = new Map<string, number>()
  const wrong: string[] = []
  return {
    wrong,
    summary: () => [...outcomes].map(([outcome, n]) => `${outcome} × ${n}`).join(', '),
    /** The distinct outcomes seen, in the order first seen. */
    outcomes: () => [...outcomes.keys()],
    allOk: () => [...outcomes.keys()].every((outcome) => outcome.startsWith('200 ')),
    read: async (app: TestApp, url: string, expected: string) => {
      const response = await app.inject(url)
      const outcome = `${response.statusCode} ${String(response.headers['x-cache'])}`
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      if (response.statusCode === 200 && response.json().name !== expected) wrong.push(`${outcome}: ${response.json().name} (${url}, expected ${expected})`)
      return response
    }
  }
}

/** X-Cache, with a HIT told apart by tier: L1 (in-process, tiered mode) or L2 (Redis). */
export function tierOf (response: { headers: Record<string, unknown> }): string {
  const timing = String(response.headers['server-timing'])
  return response.headers['x-cache'] !== 'HIT' ? String(response.headers['x-cache']) : timing.includes('desc=l1') ? 'L1' : 'L2'
}

/** Polls `read` every `everyMs` until it returns true; the time it took, or fails the test after `limitMs`. */
export async function until (read: () => Promise<boolean>, limitMs = 2_000, everyMs = 1): Promise<number> {
  const started = performance.now()
  while (!await read()) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`)
    await sleep(everyMs)
  }
  return performance.now() - started
}
