import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { listeningTestApp } from '../support/app.ts'
import { cacheEnv } from '../support/cache-modes.ts'
import { createTestDatabase, withClient } from '../support/database.ts'
import { percentile, statusTally, timedFetch } from '../support/load.ts'

const REQUESTS = 1000
/** The one event the requests all read. */
const COLD = { name: 'cold', date: '2020-01-01', location: 'x' }

for (const mode of ['memory', 'redis'] as const) {
  t.test(`${mode}: ${REQUESTS} concurrent requests on one cold key, load slowed by 100 ms: ` +
    'exactly one database load', async (t) => {
    const database = await createTestDatabase(t)
    const env = { ...await cacheEnv(t, mode), DATABASE_URL: database, FAULT_LOAD_DELAY_MS: '100' }
    const { app, base } = await listeningTestApp(t, env)
    const created = await app.inject({ method: 'POST', url: '/events', payload: COLD })
    t.equal(created.statusCode, 201)
    // What is under test is the number of loads and the bodies, not latency: on a loaded 2-core
    // machine 1,000 sockets can take more than timedFetch's usual 10 s to be served.
    const responses = await Promise.all(Array.from({ length: REQUESTS }, () =>
      timedFetch(`${base}/events/1`, undefined, 60_000)))
    t.ok(responses.every((response) => response.status === 200),
      `all ${REQUESTS} answered 200: ${statusTally(responses)}`)
    t.equal(new Set(responses.map((response) => response.body)).size, 1, 'identical bodies')
    const metrics = await (await fetch(`${base}/metrics`)).text()
    t.match(metrics, /eventcache_db_queries_total\{route="GET \/events\/:id"\} 1\n/,
      'exactly one database query, by the metrics')
    // Opening 1,000 sockets takes longer than the load: late arrivals find it stored (HIT).
    const misses = responses.filter((response) => response.cache === 'MISS').length
    const hits = responses.filter((response) => response.cache === 'HIT').length
    t.equal(misses + hits, REQUESTS, 'every one a MISS served by the one load, or a HIT after it')
    const waits = new RegExp(`eventcache_cache_flight_waits_total\\{route="GET /events/:id"\\} ${misses - 1}\\n`)
    t.match(metrics, waits, `${misses - 1} misses waited for the one load`)
    const times = responses.map((r) => r.ms)
    t.comment(`${mode}: p50 ${percentile(times, 0.5).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms`)
  })
}

/** Waits until the server holds `count` client connections (all the requests have arrived). */
async function allConnected (server: import('node:net').Server, count: number): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const connections = await new Promise<number>((resolve) => server.getConnections((_error, n) => resolve(n)))
    if (connections >= count) return
    await sleep(50)
  }
}

t.test(`redis: a failing load fails all ${REQUESTS} waiters alike, is not cached, ` +
  'and the next request retries', async (t) => {
  const database = await createTestDatabase(t)
  const { app, base } = await listeningTestApp(t, { ...await cacheEnv(t, 'redis'), DATABASE_URL: database })
  const created = await app.inject({ method: 'POST', url: '/events', payload: COLD })
  t.equal(created.statusCode, 201)
  let pending: Array<ReturnType<typeof timedFetch>> = []
  await withClient(database, async (client) => {
    // Every request queues behind one load held by a lock; then the load breaks for real.
    await client.query('BEGIN')
    await client.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE')
    pending = Array.from({ length: REQUESTS }, () => timedFetch(`${base}/events/1`, undefined, 60_000))
    await allConnected(app.server, REQUESTS)
    await sleep(300)
    await client.query('ALTER TABLE events RENAME COLUMN location TO place')
    await client.query('COMMIT')
  })
  const failed = await Promise.all(pending)
  t.ok(failed.every((response) => response.status === 500), `all 500: ${statusTally(failed)}`)
  t.equal(new Set(failed.map((response) => response.body)).size, 1, 'the same error for all')
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, /eventcache_db_queries_total\{route="GET \/events\/:id"\} 1\n/, 'one failed query in all')
  t.notMatch(metrics, /eventcache_cache_fills_total\{route="GET \/events\/:id"/, 'nothing stored')

  await withClient(database, (client) => client.query('ALTER TABLE events RENAME COLUMN place TO location'))
  const retried = await timedFetch(`${base}/events/1`)
  t.equal(retried.status, 200, 'the next request loads again')
  t.equal(retried.cache, 'MISS')
})
