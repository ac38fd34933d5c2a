import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { RedisStore } from '../../src/cache/stores/redis-store.ts'
import type { Lookup } from '../../src/cache/stores/store.ts'
import { keyspace, type View } from '../../src/cache/views.ts'
import { loadConfig } from '../../src/config.ts'
import { CACHE_TEST_MODES } from '../support/cache-modes.ts'
import { redisCommand, startRedisServer } from '../support/redis-server.ts'
import { openTiered, redisClient, tieredConfig } from '../support/stores.ts'
import { until } from '../support/waiting.ts'
import {
  assertSameResponse, generationValues, hitOf, isMiss, representationsOf, sharedStampOf, stampOf, tierOf,
  type ContractStore
} from './store-contract.ts'

// What only the tiered store has: its in-process L1, kept right by the invalidation bus. What it shares
// with every store is in store-contract.ts (stores.test.ts). On one Redis under `npm test`, and on a
// Redis Cluster under `npm run test:cluster`.

const PAGE = { limit: 100, offset: 0 }
const LONG = { ttlMs: 60_000 }

/** A lookup's answer as it comes: an L1 hit is synchronous (no I/O), anything else a promise. */
function answersAtOnce (answer: Lookup | Promise<Lookup>): answer is Lookup {
  return !(answer instanceof Promise)
}

async function fill (t: Test, store: ContractStore, view: View, text: string) {
  const entries = representationsOf(view, text)
  const stamp = stampOf(await store.lookup(view.key, view.dependsOn))
  t.equal(await store.fill(entries, view.dependsOn, stamp, LONG, true), true, `${view.key} stored`)
  return entries
}

/** Where a lookup was answered from: 'l1', 'redis' (a promise), and whether it was a hit. */
async function tierAndHit (store: ContractStore, view: View): Promise<string> {
  const answer = store.lookup(view.key, view.dependsOn)
  const found = await answer
  const where = answersAtOnce(answer) && tierOf(found) === 'l1' ? 'l1' : answersAtOnce(answer) ? 'at once' : 'redis'
  return `${where} ${hitOf(found) ? 'hit' : isMiss(found) ? 'miss' : 'expired'}`
}

for (const mode of CACHE_TEST_MODES.filter((mode) => mode === 'tiered' || mode === 'cluster')) {
  const on = mode === 'cluster' ? ' (on a Redis Cluster)' : ''

  t.test(`an L1 hit answers at once with the same bytes; another instance reads Redis, then its own L1${on}`,
    async (t) => {
      const config = await tieredConfig(t, mode)
      const [a, b] = [await openTiered(t, config), await openTiered(t, config)]
      const view = keyspace(config.CACHE_PREFIX).views.event(1)
      const entries = await fill(t, a.store, view, 'event 1')
      const answer = a.store.lookup(view.key, view.dependsOn)
      t.ok(answersAtOnce(answer), 'the filling instance keeps a copy: no I/O')
      const found = await answer
      t.equal(tierOf(found), 'l1', 'says it came from L1')
      assertSameResponse(t, hitOf(found), entries[0]!.response, 'an L1 hit')
      assertSameResponse(t, hitOf(await a.store.lookup(entries[1]!.key, view.dependsOn)), entries[1]!.response,
        'each representation has its copy')

      const fromRedis = b.store.lookup(view.key, view.dependsOn)
      t.notOk(answersAtOnce(fromRedis), 'another instance asks Redis')
      t.equal(tierOf(await fromRedis), undefined, 'not an L1 hit')
      assertSameResponse(t, hitOf(await fromRedis), entries[0]!.response, 'a Redis hit')
      t.equal(await tierAndHit(b.store, view), 'l1 hit', 'and keeps a copy')
    })

  t.test(`an invalidation on one instance reaches another's L1 through the bus, with its lag${on}`, async (t) => {
    const config = await tieredConfig(t, mode)
    const [a, b] = [await openTiered(t, config), await openTiered(t, config)]
    const view = keyspace(config.CACHE_PREFIX).views.eventGuests(1, PAGE)
    await fill(t, a.store, view, 'before')
    await b.store.lookup(view.key, view.dependsOn)
    t.equal(await tierAndHit(b.store, view), 'l1 hit', 'b has a copy')

    const sentAt = performance.timeOrigin + performance.now()
    await a.store.invalidate(view.dependsOn)
    t.equal(await tierAndHit(a.store, view), 'redis miss', 'the writer drops its copy before Redis is asked')
    await until('b hearing a', async () => b.heard.length === 1)
    t.same(b.heard[0]!.generations, view.dependsOn, 'b heard which generations')
    const { lagMs } = b.heard[0]!
    t.ok(lagMs >= 0 && lagMs <= performance.timeOrigin + performance.now() - sentAt, `lag ${lagMs.toFixed(2)} ms`)
    t.equal(await tierAndHit(b.store, view), 'redis miss', 'b\'s copy is dropped')
    t.same(a.heard, [], 'a does not hear itself')
  })

  t.test(`a database change (changeId) is not published: each instance hears it from PostgreSQL${on}`, async (t) => {
    const config = await tieredConfig(t, mode)
    const [a, b] = [await openTiered(t, config), await openTiered(t, config)]
    const { views } = keyspace(config.CACHE_PREFIX)
    const [changed, written] = [views.event(1), views.event(2)]
    for (const view of [changed, written]) {
      await fill(t, a.store, view, view.key)
      await b.store.lookup(view.key, view.dependsOn)
    }
    await a.store.invalidate(changed.dependsOn, 'change-1')
    await a.store.invalidate(written.dependsOn)
    // One channel, in order: once b has the write's message, it would have had the change's.
    await until('b hearing the write', async () => b.heard.length === 1)
    t.same(b.heard.map(({ generations }) => generations), [written.dependsOn], 'only the write was published')
    t.equal(await tierAndHit(b.store, changed), 'l1 hit', 'b keeps its copy until it hears of the change itself')
    t.equal(await tierAndHit(a.store, changed), 'redis miss', 'a applied it')
  })

  t.test(`sharedStamp: the Redis part of the stamp, alike on every instance and what a Redis store reads${on}`,
    async (t) => {
      const config = await tieredConfig(t, mode)
      const [a, b] = [await openTiered(t, config), await openTiered(t, config)]
      const redis = new RedisStore(await redisClient(t, config), 60_000)
      const view = keyspace(config.CACHE_PREFIX).views.eventGuests(1, PAGE)
      await a.store.invalidate(view.dependsOn)
      const values = await generationValues(a.store, view.dependsOn)
      const fromA = await a.store.lookup(view.key, view.dependsOn)
      const fromB = await b.store.lookup(view.key, view.dependsOn)
      t.equal(sharedStampOf(fromA), values.join(','), 'the generations Redis holds')
      t.equal(sharedStampOf(fromB), sharedStampOf(fromA), 'alike on another instance')
      t.equal(stampOf(await redis.lookup(view.key, view.dependsOn)), sharedStampOf(fromA), 'a Redis store\'s stamp')
      t.not(stampOf(fromA), sharedStampOf(fromA), 'the stamp has an L1 part of its own')
      await b.store.invalidate(view.dependsOn.slice(1))
      t.not(sharedStampOf(await a.store.lookup(view.key, view.dependsOn)), sharedStampOf(fromA),
        'it changes with a generation')
    })

  t.test(`an invalidation while a lookup is in flight: the copy it brings back is dead on arrival${on}`, async (t) => {
    const config = await tieredConfig(t, mode)
    const [a, b] = [await openTiered(t, config), await openTiered(t, config)]
    const view = keyspace(config.CACHE_PREFIX).views.event(1)
    await fill(t, b.store, view, 'old')
    const inFlight = a.store.lookup(view.key, view.dependsOn)
    // Its L1 part changes now; its Redis part after the lookup's MGET, sent first on the same connection.
    const invalidating = a.store.invalidate(view.dependsOn)
    t.ok(hitOf(await inFlight), 'the lookup read the entry before the invalidation reached Redis')
    await invalidating
    t.equal(await tierAndHit(a.store, view), 'redis miss', 'and left no copy in L1')
  })

  t.test(`the bus lost: L1 emptied and unused until it listens again; a fill begun before is not copied${on}`,
    async (t) => {
      const config = await tieredConfig(t, mode)
      const a = await openTiered(t, config)
      const { views } = keyspace(config.CACHE_PREFIX)
      const [kept, late] = [views.event(1), views.event(2)]
      await fill(t, a.store, kept, 'kept')
      t.equal(await tierAndHit(a.store, kept), 'l1 hit', 'a copy in L1')
      const lateStamp = stampOf(await a.store.lookup(late.key, late.dependsOn))

      // This instance's own subscriber connection only: other files share this Redis.
      const { host, port } = a.subscriber.options
      const address = `127.0.0.1:${a.subscriber.stream.localPort}`
      t.equal(await redisCommand(port!, host!, 'CLIENT', 'KILL', 'ADDR', address), 1, 'its subscriber cut off')
      await until('the bus noticing', async () => !a.bus.listening)
      // A lookup begun while the bus is not listening asks Redis and keeps no copy, however soon it listens again.
      for (let asked = 0; asked < 3 && !a.bus.listening; asked++) {
        t.equal(await tierAndHit(a.store, kept), 'redis hit', 'not listening: Redis is asked, no copy kept')
      }
      await until('the bus listening again', async () => a.bus.listening, { withinMs: 5_000 })
      t.equal(await tierAndHit(a.store, kept), 'redis hit', 'L1 was emptied')
      t.equal(await tierAndHit(a.store, kept), 'l1 hit', 'and fills again')

      t.equal(await a.store.fill(representationsOf(late, 'late'), late.dependsOn, lateStamp, LONG, true), true,
        'a fill under a stamp read before the loss is stored in Redis')
      t.equal(await tierAndHit(a.store, late), 'redis hit', 'but not copied to L1: messages may have been lost')
    })
}

if (CACHE_TEST_MODES.includes('tiered')) {
  t.test('an L1 copy a fill makes lives no longer than its Redis entry', async (t) => {
    // A redis-server of this test's own, stopped while the fill is on its way.
    const server = await startRedisServer(t)
    const config = loadConfig({ CACHE_MODE: 'tiered', REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: '1000' })
    const { store } = await openTiered(t, config)
    const redis = new RedisStore(await redisClient(t, config), 60_000)
    const view = keyspace(config.CACHE_PREFIX).views.event(1)
    const stamp = stampOf(await store.lookup(view.key, view.dependsOn))
    const life = { ttlMs: 200 }
    const before = Date.now()
    server.freeze()
    const filling = store.fill(representationsOf(view, 'copied'), view.dependsOn, stamp, life, true)
    await sleep(150)
    server.thaw()
    t.equal(await filling, true, 'stored, once Redis runs again')
    await sleep(Math.max(0, before + life.ttlMs + 20 - Date.now()))
    t.equal(hitOf(await redis.lookup(view.key, view.dependsOn)), undefined, 'past its TTL, Redis has no hit')
    const answered = await tierAndHit(store, view)
    t.equal(answered, 'redis miss', `nor has L1 (${answered}): the entry, without grace, is over`)
  })
}
