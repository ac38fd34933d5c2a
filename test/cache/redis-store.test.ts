import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { RedisStore } from '../../src/cache/stores/redis-store.ts'
import { keyspace } from '../../src/cache/views.ts'
import { loadConfig } from '../../src/config.ts'
import { startRedisServer, type RedisServer } from '../support/redis-server.ts'
import { redisClient } from '../support/stores.ts'
import { assertSameResponse, expiredOf, hitOf, isMiss, representationsOf, stampOf } from './store-contract.ts'

// What only the Redis store has: generations Redis can lose, and time counted on two clocks. What it
// shares with every store is in store-contract.ts (run by stores.test.ts). Each test has a redis-server
// of its own, to delete keys and stop the server under it.

async function storeOn (t: Parameters<typeof startRedisServer>[0], server: RedisServer): Promise<RedisStore> {
  const config = loadConfig({ CACHE_MODE: 'redis', REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: '1000' })
  return new RedisStore(await redisClient(t, config), 60_000)
}

t.test('a generation Redis loses makes its entries a miss, and comes back with a value never used before',
  async (t) => {
    const server = await startRedisServer(t)
    const store = await storeOn(t, server)
    const view = keyspace('lost').views.eventGuests(1, { limit: 100, offset: 0 })
    const entries = representationsOf(view, 'guests')
    const stamp = stampOf(await store.lookup(view.key, view.dependsOn))
    t.equal(await store.fill(entries, view.dependsOn, stamp, { ttlMs: 60_000 }, true), true)
    t.ok(hitOf(await store.lookup(view.key, view.dependsOn)))
    const [before] = await store.generationValues(view.dependsOn.slice(1))

    // As an eviction, an expiry or a restart without persistence would.
    await server.command('DEL', view.dependsOn[1]!)
    const lost = await store.lookup(view.key, view.dependsOn)
    t.ok(isMiss(lost), 'the entry stamped with the lost value is a miss')
    t.equal(await store.fill(entries, view.dependsOn, stampOf(lost), { ttlMs: 60_000 }, true), true,
      'a fill under the stamp read since is stored')
    const [after] = await store.generationValues(view.dependsOn.slice(1))
    t.ok(after !== '' && after !== before, 'the generation is created again, with a fresh value')
    assertSameResponse(t, hitOf(await store.lookup(view.key, view.dependsOn)), entries[0]!.response, 'a hit again')
  })

t.test('an entry is expired only within its grace, counted from its expiry (the time the fill recorded)',
  async (t) => {
    const server = await startRedisServer(t)
    const store = await storeOn(t, server)
    const view = keyspace('late').views.event(1)
    const stamp = stampOf(await store.lookup(view.key, view.dependsOn))
    // The fill records its expiry when it is sent; Redis counts the key's PX from when it runs it. A
    // stopped server widens what is otherwise the fill's one-way latency: the entry's own times rule.
    server.freeze()
    const filling = store.fill(representationsOf(view, 'late'), view.dependsOn, stamp, { ttlMs: 50 }, true)
    await sleep(150)
    server.thaw()
    t.equal(await filling, true)
    const found = await store.lookup(view.key, view.dependsOn)
    t.equal(hitOf(found), undefined, 'past its TTL: no response')
    t.ok(Number(await server.command('PTTL', view.key)) > 0, 'Redis still holds it')
    t.equal(expiredOf(found), undefined, 'no graceMs: not kept as expired either')
  })
