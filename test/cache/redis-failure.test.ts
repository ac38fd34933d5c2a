import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildTestApp, logCollector, type TestApp } from '../support/app.ts'
import { waitForHit } from '../support/cache-reads.ts'
import { postEvent } from '../support/fixtures.ts'
import { startRedisServer } from '../support/redis-server.ts'
import { startTcpProxy } from '../support/tcp-proxy.ts'
import { until } from '../support/waiting.ts'
import type { AppStore } from '../../src/cache/stores/store.ts'

async function timed (app: TestApp, url: string) {
  const started = performance.now()
  const response = await app.inject(url)
  return { response, ms: performance.now() - started }
}

t.test('Redis killed: every request is 200 BYPASS with bounded latency, ' +
  'and hits come back after a restart', async (t) => {
  const redis = await startRedisServer(t)
  const logs = logCollector()
  const env = { CACHE_MODE: 'redis', REDIS_URL: redis.url, LOG_LEVEL: 'info' }
  const app = await buildTestApp(t, env, { logStream: logs.stream })
  const logged = (message: string) => logs.lines.some((line) => line.msg === message)
  const event = await postEvent(app)
  t.ok(await waitForHit(app, '/events', 5_000) < 5_000, 'served from Redis before it dies')

  await redis.stop()
  const during = []
  for (let i = 0; i < 30; i++) during.push(await timed(app, i % 2 ? '/events' : `/events/${event.id}`))
  t.ok(during.every(({ response }) => response.statusCode === 200), 'no 5xx: all 200')
  t.ok(during.every(({ response }) => response.headers['x-cache'] === 'BYPASS'), 'all BYPASS')
  const slowest = Math.max(...during.map(({ ms }) => ms))
  t.ok(slowest < 1_000, `no request hangs (slowest ${slowest.toFixed(1)} ms)`)
  t.ok(logged('cache circuit breaker opened: serving from PostgreSQL (X-Cache: BYPASS)'),
    'a log line when the breaker opens')

  const whileDown = 'written while Redis was down'
  const written = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: whileDown } })
  t.equal(written.statusCode, 200, 'writes still work')
  t.equal((await app.inject(`/events/${event.id}`)).json().name, whileDown)

  await redis.start()
  const recoveredIn = await waitForHit(app, '/events', 10_000)
  t.ok(recoveredIn < 10_000, `hits are back ${recoveredIn} ms after the restart`)
  t.ok(logged('cache circuit breaker closed: Redis answers again'), 'a log line when it closes')
  t.equal((await app.inject(`/events/${event.id}`)).json().name, whileDown)
})

t.test('Redis down at start-up: the app boots, serves BYPASS, and uses Redis once it appears', async (t) => {
  const redis = await startRedisServer(t, { started: false })
  const port = redis.port
  const started = Date.now()
  const app = await buildTestApp(t, { CACHE_MODE: 'redis', REDIS_URL: `redis://127.0.0.1:${port}` })
  t.comment(`booted in ${Date.now() - started} ms`)
  t.ok(Date.now() - started < 5_000, 'boot does not wait for Redis')
  await postEvent(app)
  const response = await app.inject('/events')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'BYPASS')

  await redis.start()
  t.ok(await waitForHit(app, '/events', 10_000) < 10_000, 'hits once Redis is up')
})

t.test('Redis stalled (CLIENT PAUSE): reads and writes stay bounded by the command timeout, no 5xx', async (t) => {
  const redis = await startRedisServer(t)
  const app = await buildTestApp(t, { CACHE_MODE: 'redis', REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '50' })
  const event = await postEvent(app, { name: 'before' })
  await app.inject(`/events/${event.id}`)

  await redis.command('CLIENT', 'PAUSE', 1_500, 'ALL')
  const stalled = await timed(app, `/events/${event.id}`)
  t.equal(stalled.response.statusCode, 200)
  t.equal(stalled.response.headers['x-cache'], 'BYPASS')
  t.ok(stalled.ms < 1_000, `bounded by the command timeout (${stalled.ms.toFixed(1)} ms)`)
  const started = performance.now()
  const patched = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
  t.equal(patched.statusCode, 200)
  t.ok(performance.now() - started < 1_000, 'the write does not wait for Redis either')
  t.equal((await app.inject(`/events/${event.id}`)).json().name, 'after', 'read-your-writes while Redis stalls')
  t.ok(await waitForHit(app, `/events/${event.id}`, 10_000) < 10_000, 'hits come back')
  t.equal((await app.inject(`/events/${event.id}`)).json().name, 'after')
})

t.test('Redis cut off: an invalidation it missed is replayed before the cache is used again', async (t) => {
  const redis = await startRedisServer(t)
  const proxy = await startTcpProxy(t, redis.port)
  const app = await buildTestApp(t, { CACHE_MODE: 'redis', REDIS_URL: proxy.url('redis') })
  const event = await postEvent(app, { name: 'before' })
  t.ok(await waitForHit(app, `/events/${event.id}`, 5_000) < 5_000, 'the old state is cached in Redis')

  proxy.cut()
  // The write commits; its invalidation is lost on the way (not delayed: lost) and is owed.
  const patched = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
  t.equal(patched.statusCode, 200)
  const during = await app.inject(`/events/${event.id}`)
  t.equal(during.headers['x-cache'], 'BYPASS')
  t.equal(during.json().name, 'after', 'read-your-writes while Redis is cut off')

  proxy.heal()
  // Redis still holds "before" as valid for the old generation; only the replay makes it dead.
  let hit = false
  for (let waited = 0; waited < 10_000 && !hit; waited += 50) {
    const read = await app.inject(`/events/${event.id}`)
    t.equal(read.json().name, 'after', `never stale (${String(read.headers['x-cache'])})`)
    hit = read.headers['x-cache'] === 'HIT'
    await sleep(50)
  }
  t.ok(hit, 'and the cache is back')
})

for (const mode of ['redis', 'tiered'] as const) {
  t.test(`${mode}: a write that lands while what was owed is replayed is not lost: ` +
    'nothing stale once the cache is used again', async (t) => {
    const redis = await startRedisServer(t)
    const app = await buildTestApp(t, { CACHE_MODE: mode, REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '1000' })
    const first = await postEvent(app, { name: 'first before' })
    const second = await postEvent(app, { name: 'second before' })
    for (const event of [first, second]) {
      t.ok(await waitForHit(app, `/events/${event.id}`, 5_000) < 5_000, `event ${event.id} cached`)
    }

    // Catch the replay of what was owed as it starts (the breaker's probe has just closed it): the
    // second write commits right then, after the replay took what was owed and before Redis has it.
    // The store itself, under the panel's view of it: its invalidations are what this test catches.
    const store = app.cache.store as AppStore
    const invalidate = store.invalidate.bind(store)
    let calls = 0
    let secondWrite: Promise<{ statusCode: number }> | undefined
    const invalidations: string[] = []
    app.cache.events.observe({ invalidated: (_request, _generations, result) => invalidations.push(result) })
    store.invalidate = async (generations) => {
      // Call 1 is the first write's own invalidation, call 2 the replay.
      if (++calls === 2) {
        secondWrite = app.inject({ method: 'PATCH', url: `/events/${second.id}`, payload: { name: 'second after' } })
        t.equal((await secondWrite).statusCode, 200, 'the second write commits while the replay is under way')
      }
      return invalidate(generations)
    }

    // Writes stall past the command timeout: the first write's invalidation is owed, the breaker opens.
    await redis.command('CLIENT', 'PAUSE', 3_000, 'WRITE')
    const firstWrite = await app.inject({
      method: 'PATCH',
      url: `/events/${first.id}`,
      payload: { name: 'first after' }
    })
    t.equal(firstWrite.statusCode, 200)
    t.equal(app.cache.partlyBypassed, true, 'the failed invalidation opened the breaker')

    await until('the breaker closed', async () => app.cache.partlyBypassed === false, { withinMs: 10_000 })
    t.equal(app.cache.partlyBypassed, false, 'the probe closes the breaker')
    t.ok(secondWrite !== undefined, 'the second write landed during the replay')
    // Redis had just answered the probe, so the second write's invalidation went straight to it.
    t.same(invalidations, ['owed', 'done'], 'the first write owed its invalidation, the second did not')
    for (const [event, name] of [[first, 'first after'], [second, 'second after']] as const) {
      const read = await app.inject(`/events/${event.id}`)
      const outcome = String(read.headers['x-cache'])
      t.equal(read.json().name, name, `event ${event.id} is not stale once the breaker closed (${outcome})`)
      t.ok(await waitForHit(app, `/events/${event.id}`, 5_000) < 5_000, `event ${event.id} is cached again`)
      t.equal((await app.inject(`/events/${event.id}`)).json().name, name, `event ${event.id}'s hit is the new state`)
    }
  })
}
