import { setTimeout as sleep } from 'node:timers/promises'
import { brotliDecompressSync } from 'node:zlib'
import t from 'tap'
import { buildTestApp, logCollector } from '../support/app.ts'
import { cacheEnv } from '../support/cache-modes.ts'
import { tierOf } from '../support/cache-reads.ts'
import { createTestDatabase } from '../support/database.ts'
import { patchEvent, postEvent } from '../support/fixtures.ts'
import { type RedisServer, startRedisServer } from '../support/redis-server.ts'
import { until } from '../support/waiting.ts'

/** Two instances of the app on one Redis and one database, as behind a load balancer. */
async function twoInstances (t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  const redis = await startRedisServer(t)
  const shared = { ...await cacheEnv(t, 'tiered', redis.url), DATABASE_URL: await createTestDatabase(t), ...env }
  return { redis, a: await buildTestApp(t, shared), b: await buildTestApp(t, shared) }
}

/** Every command the app's connections sent, by name (the INFO connection's own HELLO and INFO left out). */
async function commandCalls (redis: RedisServer): Promise<Record<string, number>> {
  const info = String(await redis.command('INFO', 'commandstats'))
  const stats = [...info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)]
  const calls = Object.fromEntries(stats.map(([, name, n]) => [name!, Number(n)]))
  delete calls.info
  delete calls.hello
  return calls
}

t.test('an L1 hit sends nothing to Redis', async (t) => {
  const { redis, a } = await twoInstances(t)
  const event = await postEvent(a)
  t.equal(tierOf(await a.inject(`/events/${event.id}`)), 'MISS')
  const before = await commandCalls(redis)
  for (let i = 0; i < 50; i++) t.equal(tierOf(await a.inject(`/events/${event.id}`)), 'L1')
  t.same(await commandCalls(redis), before, '50 hits, 0 Redis commands')
})

t.test('another instance fills L1 from Redis; a write on either drops both copies', async (t) => {
  const { a, b } = await twoInstances(t)
  const event = await postEvent(a, { name: 'v0' })
  t.equal(tierOf(await a.inject(`/events/${event.id}`)), 'MISS', 'a loads it')
  t.equal(tierOf(await b.inject(`/events/${event.id}`)), 'L2', 'b finds it in Redis and keeps a copy')
  t.equal(tierOf(await b.inject(`/events/${event.id}`)), 'L1')

  await patchEvent(t, a, event.id, { name: 'v1' })
  t.equal((await a.inject(`/events/${event.id}`)).json().name, 'v1', 'the writer reads its write at once')
  const lagMs = await until('b showing the write on a', async () =>
    (await b.inject(`/events/${event.id}`)).json().name === 'v1')
  t.ok(lagMs < 1_000, `the other instance sees it ${lagMs.toFixed(1)} ms later`)
  const metrics = (await b.inject('/metrics')).body
  t.match(metrics, /eventcache_cache_invalidation_lag_seconds_count 2\n/,
    "b measured the lag of both of a's writes (the POST and the PATCH)")

  await patchEvent(t, b, event.id, { name: 'v2' })
  await until('a showing the write on b', async () => (await a.inject(`/events/${event.id}`)).json().name === 'v2')
  t.equal((await a.inject(`/events/${event.id}`)).json().name, 'v2', 'and back: b writes, a drops its copy')
})

t.test('the pub/sub connection killed: both instances flush L1, stay correct, ' +
  'and resume hits after resubscribing', async (t) => {
  const { redis, a, b } = await twoInstances(t)
  const event = await postEvent(a, { name: 'before' })
  await a.inject(`/events/${event.id}`)
  await b.inject(`/events/${event.id}`)
  t.equal(tierOf(await a.inject(`/events/${event.id}`)), 'L1')
  t.equal(tierOf(await b.inject(`/events/${event.id}`)), 'L1')

  const killed = Number(await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub'))
  t.equal(killed, 2, 'both subscribers cut off')
  // The write lands while the subscribers may be away: its message can be lost for good.
  await patchEvent(t, a, event.id, { name: 'after' })
  for (const app of [a, b]) {
    const response = await app.inject(`/events/${event.id}`)
    t.equal(response.json().name, 'after', 'never the copy from before the disconnect')
  }
  for (const [name, app] of [['a', a], ['b', b]] as const) {
    const isL1 = async () => tierOf(await app.inject(`/events/${event.id}`)) === 'L1'
    const waited = await until(`${name} serving from L1 again`, isL1, { withinMs: 5_000 })
    t.equal(tierOf(await app.inject(`/events/${event.id}`)), 'L1',
      `${name}: L1 hits again ${waited.toFixed(0)} ms later`)
    t.equal((await app.inject(`/events/${event.id}`)).json().name, 'after')
  }
})

t.test('Redis gone: L1 is not served (BYPASS from PostgreSQL), and is used again once Redis is back', async (t) => {
  const { redis, a } = await twoInstances(t)
  const event = await postEvent(a)
  await a.inject(`/events/${event.id}`)
  t.equal(tierOf(await a.inject(`/events/${event.id}`)), 'L1')
  await redis.stop()
  await until('a bypassing the cache', async () => tierOf(await a.inject(`/events/${event.id}`)) === 'BYPASS')
  const outcomes = new Set<string>()
  for (let i = 0; i < 20; i++) outcomes.add(tierOf(await a.inject(`/events/${event.id}`)))
  t.same([...outcomes], ['BYPASS'], 'without its subscriber, L1 no longer answers')
  await redis.start()
  await until('a serving from L1 again', async () => tierOf(await a.inject(`/events/${event.id}`)) === 'L1', {
    withinMs: 10_000
  })
  t.equal(tierOf(await a.inject(`/events/${event.id}`)), 'L1', 'back to L1 hits')
})

t.test('a copy never outlives the Redis entry it copies (a 404 cached for 1 s)', async (t) => {
  const { a } = await twoInstances(t, { CACHE_NEGATIVE_TTL: '1', CACHE_L1_TTL: '30' })
  await a.inject('/events/77')
  t.equal(tierOf(await a.inject('/events/77')), 'L1')
  await sleep(1_100)
  t.equal(tierOf(await a.inject('/events/77')), 'MISS')
})

t.test('an expired L1 copy is refreshed by one Redis read, however many readers miss it together', async (t) => {
  const { redis, a } = await twoInstances(t, { CACHE_L1_TTL: '1' })
  const event = await postEvent(a)
  await a.inject(`/events/${event.id}`)
  t.equal(tierOf(await a.inject(`/events/${event.id}`)), 'L1')
  await sleep(1_100)
  const before = (await commandCalls(redis)).mget ?? 0
  const responses = await Promise.all(Array.from({ length: 50 }, () => a.inject(`/events/${event.id}`)))
  t.same(new Set(responses.map(tierOf)), new Set(['L2']), 'all 50 missed L1 and were served from Redis')
  t.ok(responses.every((response) => response.json().id === event.id))
  t.equal(((await commandCalls(redis)).mget ?? 0) - before, 1, 'one MGET for the 50 of them')
  t.equal(tierOf(await a.inject(`/events/${event.id}`)), 'L1', 'and the one read made the new copy')
})

t.test('CACHE_LEASE_MS: a reader that waited for another instance\'s fill gets the coding it asked for', async (t) => {
  const { a, b } = await twoInstances(t, { FAULT_LOAD_DELAY_MS: '200', CACHE_LEASE_MS: '2000' })
  for (let i = 0; i < 15; i++) await postEvent(a, { description: `an evening of talks, number ${i}` })
  const headers = { 'accept-encoding': 'br' }
  const responses = await Promise.all(Array.from({ length: 10 }, (_, i) =>
    (i % 2 === 0 ? a : b).inject({ url: '/events', headers })))
  const loads = responses.filter((response) => Number(response.headers['x-db-queries']) > 0)
  t.equal(loads.length, 1, 'one instance loaded; the other waited for its fill')
  const bodies = responses.map((response) => {
    t.equal(response.headers['content-encoding'], 'br', `${String(response.headers['x-cache'])}: br`)
    return brotliDecompressSync(response.rawPayload).toString()
  })
  t.equal(new Set(bodies).size, 1, 'every reader the same page')
  t.equal(JSON.parse(bodies[0]!).results.length, 15)
})

async function coldStampede (t: Parameters<typeof buildTestApp>[0], env: Record<string, string>): Promise<number> {
  const { a, b } = await twoInstances(t, { FAULT_LOAD_DELAY_MS: '200', ...env })
  const event = await postEvent(a)
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    (i % 2 === 0 ? a : b).inject(`/events/${event.id}`)))
  t.ok(responses.every((response) => response.statusCode === 200 && response.json().id === event.id), 'all answered')
  return responses.reduce((sum, response) => sum + Number(response.headers['x-db-queries']), 0)
}

t.test('CACHE_LEASE_MS: two instances missing one cold key load it once', async (t) => {
  t.equal(await coldStampede(t, { CACHE_LEASE_MS: '2000' }), 1, 'with the lease: one load for both instances')
  t.equal(await coldStampede(t, {}), 2, 'without it: one load per instance')
})

t.test('a SUBSCRIBE that Redis refuses is tried again on the same connection, without a reconnect', async (t) => {
  const redis = await startRedisServer(t)
  // Redis's ACLs refuse every channel to the app's user: SUBSCRIBE fails, the connection stays up.
  await redis.command('ACL', 'SETUSER', 'default', 'resetchannels')
  const logs = logCollector()
  const env = { ...await cacheEnv(t, 'tiered', redis.url), LOG_LEVEL: 'warn' }
  const app = await buildTestApp(t, env, { logStream: logs.stream })
  // Written in SQL: an API write would publish, which the same ACL refuses.
  const { rows } = await app.pg.pool.query(
    "INSERT INTO events (name, date, location) VALUES ('e', now(), 'l') RETURNING id"
  )
  const url = `/events/${rows[0].id}`
  t.equal(tierOf(await app.inject(url)), 'MISS')
  t.equal(tierOf(await app.inject(url)), 'L2', 'L1 is off while the bus is not listening')
  const refused = 'invalidation subscriber could not subscribe; L1 stays off until it does'
  t.ok(logs.lines.some((line) => line.msg === refused), 'and says so')

  await redis.command('ACL', 'SETUSER', 'default', 'allchannels')
  const tookMs = await until('L1 serving', async () => tierOf(await app.inject(url)) === 'L1', {
    withinMs: 10_000,
    everyMs: 50
  })
  t.comment(`L1 on ${tookMs.toFixed(0)} ms after Redis accepted the channel`)
  t.equal(tierOf(await app.inject(url)), 'L1')
})

for (const mode of ['redis', 'tiered'] as const) {
  t.test(`${mode}: a lease is for one stamp: once a write lands, nobody waits out the holder's lease`, async (t) => {
    const redis = await startRedisServer(t)
    const shared = {
      ...await cacheEnv(t, mode, redis.url),
      DATABASE_URL: await createTestDatabase(t),
      CACHE_LEASE_MS: '30000'
    }
    const [a, b] = [await buildTestApp(t, shared), await buildTestApp(t, shared)]
    const event = await postEvent(a, { name: 'before' })
    const url = `/events/${event.id}`
    let release = () => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    let loaded = () => {}
    const holderLoaded = new Promise<void>((resolve) => { loaded = resolve })
    a.cache.faults.beforeFill = async () => {
      loaded()
      await held
    }
    // a takes the lease and loads, then holds its fill; b finds the lease taken and waits for it.
    const holder = a.inject(url)
    await holderLoaded
    const waiter = b.inject(url)
    await sleep(100)

    await patchEvent(t, b, event.id, { name: 'after' })
    const wrote = performance.now()
    const fresh = await b.inject(url)
    const freshMs = performance.now() - wrote
    t.equal(fresh.json().name, 'after')
    t.ok(freshMs < 5_000, `a read after the write takes a lease of its own (${freshMs.toFixed(0)} ms; lease 30 s)`)
    const waited = await waiter
    const waiterMs = performance.now() - wrote
    t.equal(waited.statusCode, 200)
    t.ok(waiterMs < 5_000, `the waiter stops waiting once it sees the write (${waiterMs.toFixed(0)} ms after it)`)
    release()
    t.equal((await holder).statusCode, 200, 'the holder answers; its fill is refused')
    a.cache.faults.beforeFill = undefined
    t.equal((await a.inject(url)).json().name, 'after', 'and never lands')
  })
}
