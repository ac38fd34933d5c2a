import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { listeningTestApp } from '../support/app.ts'
import { createTestDatabase, withClient } from '../support/database.ts'
import { percentile, postJson, runClients, type Timed, timedFetch } from '../support/load.ts'
import { startRedisServer } from '../support/redis-server.ts'

const CLIENTS = 16

/** Redis mode as in production (50 ms command timeout), against a Redis the test owns. */
function redisEnv (url: string, database: string) {
  const prefix = `fault-${randomBytes(4).toString('hex')}`
  return { CACHE_MODE: 'redis', REDIS_URL: url, CACHE_PREFIX: prefix, DATABASE_URL: database }
}

async function seedEvents (base: string, count: number) {
  for (let i = 0; i < count; i++) {
    await postJson(`${base}/events`, { name: `e${i}`, date: '2020-01-01', location: 'x' })
  }
}

/** Load on the events list and 20 event details, recording every response with its time. */
async function load (base: string, durationMs: number, samples: Timed[]): Promise<void> {
  await runClients(CLIENTS, durationMs, async () => {
    const id = Math.floor(Math.random() * 21)
    samples.push(await timedFetch(id === 0 ? `${base}/events` : `${base}/events/${id}`))
  })
}

t.test('Redis killed mid-load: 0 5xx, no request over 1 s, ' +
  'hit ratio back above 80% within 10 s of the restart', async (t) => {
  const redis = await startRedisServer(t)
  const { base } = await listeningTestApp(t, redisEnv(redis.url, await createTestDatabase(t)))
  await seedEvents(base, 20)
  const samples: Timed[] = []
  const started = performance.now()
  let restartedAt = 0
  await Promise.all([
    load(base, 14_000, samples),
    (async () => {
      await sleep(2_000)
      await redis.stop()
      await sleep(2_000)
      await redis.start()
      restartedAt = performance.now()
    })()
  ])
  const failed = samples.filter((sample) => sample.status >= 500 || sample.status === 0)
  const slowest = Math.max(...samples.map((sample) => sample.ms))
  t.equal(failed.length, 0, `0 5xx or errors in ${samples.length} requests`)
  const p99 = percentile(samples.map((s) => s.ms), 0.99).toFixed(1)
  t.ok(slowest < 1_000, `no request over 1 s (slowest ${slowest.toFixed(0)} ms, p99 ${p99} ms)`)
  t.ok(samples.some((sample) => sample.cache === 'BYPASS'), 'served from PostgreSQL while Redis was gone')

  // Hit ratio per 500 ms window after the restart.
  let recoveredAfter = Infinity
  for (let from = restartedAt; from < performance.now(); from += 500) {
    const window = samples.filter((sample) => sample.at >= from && sample.at < from + 500)
    if (window.length >= 20 && window.filter((sample) => sample.cache === 'HIT').length / window.length > 0.8) {
      recoveredAfter = from - restartedAt
      break
    }
  }
  t.ok(recoveredAfter < 10_000, `hit ratio above 80% again ${recoveredAfter.toFixed(0)} ms after the restart`)
  const bypassed = samples.filter((s) => s.cache === 'BYPASS').length
  t.comment(`Redis killed at 2 s, restarted at ${((restartedAt - started) / 1000).toFixed(1)} s: ` +
    `${samples.length} requests, ${bypassed} BYPASS, slowest ${slowest.toFixed(0)} ms, ` +
    `hits back above 80% after ${(recoveredAfter / 1000).toFixed(1)} s`)
})

t.test('Redis paused (CLIENT PAUSE): latency bounded by the command timeout, 0 5xx', async (t) => {
  const redis = await startRedisServer(t)
  const { base } = await listeningTestApp(t, redisEnv(redis.url, await createTestDatabase(t)))
  await seedEvents(base, 20)
  const samples: Timed[] = []
  let pausedFrom = 0
  await Promise.all([
    load(base, 6_000, samples),
    (async () => {
      await sleep(1_500)
      pausedFrom = performance.now()
      await redis.command('CLIENT', 'PAUSE', 2_000, 'ALL')
    })()
  ])
  const during = samples.filter((sample) => sample.at >= pausedFrom && sample.at < pausedFrom + 2_000)
  const slowest = Math.max(...during.map((sample) => sample.ms))
  const failed = samples.filter((sample) => sample.status >= 500 || sample.status === 0)
  t.equal(failed.length, 0, `0 5xx in ${samples.length} requests`)
  t.ok(during.length > 50, `${during.length} requests during the pause`)
  // 50 ms per Redis command at most; a request makes one lookup, and the breaker opens after 3 failures.
  const p99 = percentile(during.map((s) => s.ms), 0.99).toFixed(1)
  t.ok(slowest < 500, `slowest request during the pause ${slowest.toFixed(0)} ms (p99 ${p99} ms)`)
  const bypassed = during.filter((s) => s.cache === 'BYPASS').length
  t.comment(`paused 2 s: ${during.length} requests, ${bypassed} BYPASS, slowest ${slowest.toFixed(0)} ms`)
})

t.test('PostgreSQL connection loss: the process keeps running, requests fail fast with 503 + Retry-After, ' +
  'then recover without a restart', async (t) => {
  const database = await createTestDatabase(t)
  const { base } = await listeningTestApp(t, { CACHE_MODE: 'off', DATABASE_URL: database })
  await seedEvents(base, 20)
  const name = new URL(database).pathname.slice(1)
  const admin = new URL(database)
  admin.pathname = '/postgres'
  const terminateSessions = 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1'
  const samples: Timed[] = []
  let lostAt = 0
  let backAt = 0
  await Promise.all([
    load(base, 7_000, samples),
    (async () => {
      await sleep(1_000)
      // First the app's connections are killed while it runs: the pool must replace them.
      await withClient(admin.toString(), (client) => client.query(terminateSessions, [name]))
      await sleep(1_000)
      // Then the database is gone for 2 s: nothing can connect.
      lostAt = performance.now()
      await withClient(admin.toString(), async (client) => {
        await client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`)
        await client.query(terminateSessions, [name])
      })
      await sleep(2_000)
      await withClient(admin.toString(), (client) => client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`))
      backAt = performance.now()
    })()
  ])
  const unavailable = samples.filter((sample) => sample.status === 503)
  t.same([...new Set(samples.map((sample) => sample.status))].sort(), [200, 503],
    'only 200 or 503: never a 500, never a dropped connection')
  t.ok(unavailable.length > 0, `${unavailable.length} requests answered 503 while the database was gone`)
  t.ok(unavailable.every((sample) => sample.retryAfter === '1'), 'each with Retry-After')
  const slowest = Math.max(...unavailable.map((sample) => sample.ms))
  t.ok(slowest < 2_500, `failing fast (slowest 503 ${slowest.toFixed(0)} ms)`)
  const after = samples.filter((sample) => sample.at > backAt + 500)
  t.ok(after.length > 50 && after.every((sample) => sample.status === 200),
    `${after.length} requests after it came back: all 200, same process`)
  const before = samples.filter((sample) => sample.at < lostAt)
  t.comment(`${samples.length} requests: ${before.filter((s) => s.status === 503).length} 503 around the killed ` +
    `connections, ${unavailable.length} 503 in all, ${after.length} 200 after recovery`)
})
