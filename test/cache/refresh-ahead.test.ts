// CACHE_REFRESH_AHEAD over HTTP, in every cache mode: a view read all the time is never a miss,
// however often its TTL runs out, and a change made meanwhile arrives through the refresh.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildTestApp, type TestApp } from '../support/app.ts'
import { CACHE_TEST_MODES, cacheEnv } from '../support/cache-modes.ts'
import { createTestDatabase } from '../support/database.ts'
import { postEvent } from '../support/fixtures.ts'

/** Reads `url` from each app in turn for `ms`: the outcomes, names and query counts seen. */
async function readFor (apps: TestApp[], url: string, ms: number) {
  const seen = { outcomes: new Set<string>(), names: new Set<string>(), queries: new Set<string>() }
  const started = performance.now()
  for (let i = 0; performance.now() - started < ms; i++) {
    const response = await apps[i % apps.length]!.inject(url)
    seen.outcomes.add(String(response.headers['x-cache']))
    seen.names.add(response.json().name)
    seen.queries.add(String(response.headers['x-db-queries']))
    await sleep(10)
  }
  return seen
}

/** Apps on one database and cache, never told of SQL writes: what changes the data is the refresh alone. */
async function apps (t: Parameters<typeof buildTestApp>[0], env: Record<string, string>, count: number) {
  const shared = { ...env, DATABASE_URL: await createTestDatabase(t), CACHE_TTL: '1', CACHE_DB_INVALIDATION: 'false' }
  const built: TestApp[] = []
  for (let i = 0; i < count; i++) built.push(await buildTestApp(t, shared))
  const refreshes: string[] = []
  for (const app of built) app.cache.events.observe({ refreshed: (_view, result) => refreshes.push(result) })
  return { apps: built, refreshes }
}

for (const mode of CACHE_TEST_MODES) {
  t.test(`${mode}: a view read all the time is refreshed before it expires, and never misses`, async (t) => {
    // Where instances share the store, one fills and the other reads: its copies (tiered mode's L1)
    // come from Redis, and must not hide the entry's refresh point.
    const { apps: instances, refreshes } = await apps(t, await cacheEnv(t, mode), mode === 'memory' ? 1 : 2)
    const [filler, reader] = [instances[0]!, instances.at(-1)!]
    const event = await postEvent(filler, { name: 'before' })
    const url = `/events/${event.id}`
    t.equal((await filler.inject(url)).headers['x-cache'], 'MISS')
    await filler.pg.pool.query("UPDATE events SET name = 'after' WHERE id = $1", [event.id])

    const seen = await readFor([reader], url, 1_500)
    t.same([...seen.outcomes], ['HIT'], 'every read past the TTL a hit')
    t.same([...seen.queries], ['0'], 'none of them waited for PostgreSQL')
    t.same([...seen.names], ['before', 'after'], 'the refresh brought the change')
    t.same(refreshes, ['stored'], 'one refresh')
  })
}

t.test('redis, two instances with CACHE_LEASE_MS: one of them refreshes', async (t) => {
  const env = { ...await cacheEnv(t, 'redis'), CACHE_LEASE_MS: '500' }
  const { apps: pair, refreshes } = await apps(t, env, 2)
  const event = await postEvent(pair[0]!)
  const url = `/events/${event.id}`
  await pair[0]!.inject(url)
  const seen = await readFor(pair, url, 1_500)
  t.same([...seen.outcomes], ['HIT'])
  t.same(refreshes, ['stored'], 'one refresh for both')
})

t.test('memory, CACHE_REFRESH_AHEAD=false: the view expires under its readers', async (t) => {
  const { apps: [app], refreshes } = await apps(t, { ...await cacheEnv(t, 'memory'), CACHE_REFRESH_AHEAD: 'false' }, 1)
  const event = await postEvent(app!)
  const url = `/events/${event.id}`
  await app!.inject(url)
  const seen = await readFor([app!], url, 1_500)
  t.same([...seen.outcomes].sort(), ['HIT', 'MISS'], 'a miss once the TTL ran out')
  t.same(refreshes, [])
})
