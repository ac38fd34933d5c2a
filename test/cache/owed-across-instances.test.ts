// Read-your-writes across instances while Redis flaps: writes answered by an instance that cannot
// reach Redis are never read old on another instance that can, or that gets Redis back first.
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../support/app.ts'
import { waitForHit } from '../support/cache-reads.ts'
import { createTestDatabase } from '../support/database.ts'
import { postEvent, postGuest } from '../support/fixtures.ts'
import { startRedisServer } from '../support/redis-server.ts'
import { startTcpProxy } from '../support/tcp-proxy.ts'

/** What every view must show once a write through A has been answered. */
interface Expected {
  eventId: number
  /** The event's name, also embedded in each of its guests. */
  name: string
  /** The guest kept, and the one deleted partway through. */
  kept: number
  deleted: number
  deletedYet: boolean
}

/** Reads every view of the event on `app`: each that shows an older state, with its X-Cache. */
async function staleViews (app: TestApp, expected: Expected): Promise<string[]> {
  return (await readViews(app, expected)).stale
}

/** `staleViews`, and whether the first view was a BYPASS (this instance does not use its cache now). */
async function readViews (app: TestApp, expected: Expected): Promise<{ stale: string[], bypassed: boolean }> {
  const { eventId, name, kept, deleted, deletedYet } = expected
  const stale: string[] = []
  const read = async (url: string, isFresh: (status: number, body: any) => boolean) => {
    const response = await app.inject(url)
    const body = response.statusCode === 200 ? response.json() : undefined
    if (!isFresh(response.statusCode, body)) {
      const shown = JSON.stringify(body)?.slice(0, 60)
      stale.push(`${url}: ${response.statusCode} ${String(response.headers['x-cache'])} ${shown}`)
    }
    return response
  }
  const first = await read(`/events/${eventId}`, (status, body) => status === 200 && body.name === name)
  await read('/events', (status, body) => status === 200 &&
    body.results.find(({ id }: { id: number }) => id === eventId)?.name === name)
  await read(`/guests/${kept}`, (status, body) => status === 200 && body.event.name === name)
  await read(`/guests/${deleted}`, (status, body) => deletedYet ? status === 404 : body?.event.name === name)
  await read(`/events/${eventId}/guests`, (status, body) => status === 200 &&
    body.count === (deletedYet ? 1 : 2) && body.results.every(({ event }: any) => event.name === name))
  return { stale, bypassed: first.headers['x-cache'] === 'BYPASS' }
}

/**
 * Reads every view on `app` until its cache is used again (the first view is not BYPASS), 20 ms
 * apart, at most `withinMs`: the stale views among all those reads.
 */
async function readsUntilCached (app: TestApp, expected: Expected, withinMs: number): Promise<string[]> {
  const stale: string[] = []
  const deadline = performance.now() + withinMs
  for (;;) {
    const read = await readViews(app, expected)
    stale.push(...read.stale)
    if (!read.bypassed || performance.now() > deadline) return stale
    await sleep(20)
  }
}

async function patchName (t: Test, app: TestApp, expected: Expected, name: string): Promise<void> {
  const response = await app.inject({ method: 'PATCH', url: `/events/${expected.eventId}`, payload: { name } })
  t.equal(response.statusCode, 200, `PATCH through A to ${name} answered`)
  expected.name = name
}

for (const mode of ['redis', 'tiered'] as const) {
  t.test(`${mode}: what an instance without Redis writes is never read old on another, ` +
    'while that one has Redis, and the moment it gets it back', async (t) => {
    const redis = await startRedisServer(t)
    const database = await createTestDatabase(t)
    const toRedis = [await startTcpProxy(t, redis.port), await startTcpProxy(t, redis.port)] as const
    const env = (proxy: typeof toRedis[number]) => ({
      CACHE_MODE: mode,
      REDIS_URL: proxy.url('redis'),
      DATABASE_URL: database,
      // Cut off, a command fails at this timeout; one that a busy machine does not trip.
      REDIS_COMMAND_TIMEOUT_MS: '1000',
      // Nothing expires during the test: only invalidation can make a view fresh.
      CACHE_TTL: '86400',
      CACHE_L1_TTL: '86400'
    })
    const a = await buildTestApp(t, env(toRedis[0]))
    const b = await buildTestApp(t, env(toRedis[1]))

    const event = await postEvent(a, { name: 'v0' })
    const kept = await postGuest(a, event.id)
    const deleted = await postGuest(a, event.id, { name: 'Grace Hopper' })
    const expected: Expected = { eventId: event.id, name: 'v0', kept: kept.id, deleted: deleted.id, deletedYet: false }
    for (const app of [a, b]) {
      t.same(await staleViews(app, expected), [], 'every view read while Redis answers')
    }
    t.ok(await waitForHit(b, `/events/${event.id}`, 5_000) < 5_000, 'B serves the event from the cache')

    // A loses Redis; B keeps it. What A owes, B must not serve from Redis.
    toRedis[0].cut()
    await patchName(t, a, expected, 'v1')
    t.same(await staleViews(b, expected), [], 'B, which has Redis, reads v1 at once')
    t.same((await staleViews(a, expected)), [], 'A reads its own write')

    // Redis freezes (no connection closes), A writes again and deletes a guest, Redis comes back.
    redis.freeze()
    await patchName(t, a, expected, 'v2')
    const gone = await a.inject({ method: 'DELETE', url: `/guests/${deleted.id}` })
    t.equal(gone.statusCode, 204, 'a guest deleted through A')
    expected.deletedYet = true
    t.same((await staleViews(b, expected)), [], 'B reads v2 while Redis is frozen')
    redis.thaw()
    t.same(await readsUntilCached(b, expected, 10_000), [], 'B reads v2 from the moment Redis thaws')

    // Redis killed and restarted empty while A, still without it, writes.
    await redis.stop()
    await patchName(t, a, expected, 'v3')
    await redis.start()
    t.same(await readsUntilCached(b, expected, 10_000), [], 'B reads v3 from the moment Redis is back')

    // A gets Redis back: both serve the last write, and from the cache again.
    toRedis[0].heal()
    t.same(await readsUntilCached(a, expected, 10_000), [], 'A reads v3 from the moment it has Redis again')
    t.same(await staleViews(b, expected), [], 'and B still does')
    for (const [label, app] of [['A', a], ['B', b]] as const) {
      t.ok(await waitForHit(app, `/events/${event.id}`, 10_000) < 10_000, `${label} serves from the cache again`)
      t.same(await staleViews(app, expected), [], `${label}'s hits are v3`)
    }
  })
}
