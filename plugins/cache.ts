import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Cluster, Redis } from 'ioredis'
import { InvalidationBus } from '../src/cache/invalidation-bus.ts'
import { MemoryStore } from '../src/cache/memory-store.ts'
import { RedisStore } from '../src/cache/redis-store.ts'
import { ResponseCache } from '../src/cache/response-cache.ts'
import { ShardBreakers } from '../src/cache/shard-breakers.ts'
import type { CacheStore } from '../src/cache/store.ts'
import { TieredStore } from '../src/cache/tiered-store.ts'
import { CACHE_FORMAT_VERSION } from '../src/cache/views.ts'
import { owedInvalidations } from '../src/repositories/owed-invalidations.ts'
import { assertClusterReady, isCluster, masterFor } from '../src/redis-cluster.ts'
import { invalidationSubscriber } from './redis.ts'

declare module 'fastify' {
  interface FastifyInstance {
    cache: ResponseCache
  }
}

/**
 * The response cache for CACHE_MODE (off, memory, redis or tiered). In redis and tiered modes
 * Redis is optional at run time.
 */
export default fp(async function cache (app) {
  const config = app.config
  const maxTtlMs = Math.max(config.CACHE_TTL, config.CACHE_NEGATIVE_TTL) * 1000
  const memory = () => new MemoryStore({ maxBytes: config.CACHE_MEMORY_MAX_BYTES, maxEntries: config.CACHE_MEMORY_MAX_ENTRIES })

  let store: CacheStore | undefined
  let breakers: ShardBreakers | undefined
  if (config.CACHE_MODE === 'memory') {
    store = memory()
  } else if (config.CACHE_MODE === 'redis' || config.CACHE_MODE === 'tiered') {
    if (!app.hasDecorator('redis')) throw new Error(`CACHE_MODE=${config.CACHE_MODE} needs the redis plugin registered first`)
    // WAIT answers within half the command timeout, so its count comes back before the client gives up.
    const durability = config.CACHE_INVALIDATION_REPLICAS > 0 ? { replicas: config.CACHE_INVALIDATION_REPLICAS, waitMs: Math.max(1, Math.floor(config.REDIS_COMMAND_TIMEOUT_MS / 2)) } : undefined
    const shared = new RedisStore(app.redis, maxTtlMs, durability)
    store = config.CACHE_MODE === 'redis'
      ? shared
      : await tiered(app, shared, memory(), (generations, lagMs) => responseCache.remoteInvalidated(generations, lagMs))
    breakers = new ShardBreakers({
      threshold: 3,
      cooldownMs: 500,
      maxCooldownMs: 5_000,
      shardOf: shardOf(app.redis),
      probe: (shard) => ping(app.redis, shard),
      onChange: (shard, state, reason) => {
        if (state === 'open') app.log.warn({ reason, shard }, 'cache circuit breaker opened: serving from PostgreSQL (X-Cache: BYPASS)')
        else app.log.info({ reason, shard }, 'cache circuit breaker closed: Redis answers again')
        // What was owed to this shard can be paid now.
        if (state === 'closed') responseCache.replayOwedInvalidations()
      }
    })
  }

  const responseCache = new ResponseCache({
    mode: config.CACHE_MODE,
    store,
    breakers,
    prefix: config.CACHE_PREFIX,
    ttlSeconds: config.CACHE_TTL,
    negativeTtlSeconds: config.CACHE_NEGATIVE_TTL,
    invalidate: config.CACHE_INVALIDATE,
    fence: config.CACHE_FENCE,
    log: app.log,
    ...(config.FAULT_LOAD_DELAY_MS !== undefined && { loadDelayMs: delayFrom(config.FAULT_LOAD_DELAY_MS) }),
    ...(config.CACHE_LEASE_MS !== undefined && { leaseMs: config.CACHE_LEASE_MS }),
    // Only a store that can fail owes invalidations.
    ...(breakers !== undefined && {
      journal: owedInvalidations(app.pg.pool, `${config.CACHE_PREFIX}:v${CACHE_FORMAT_VERSION}:`)
    })
  })
  app.decorate('cache', responseCache)
  await responseCache.restoreOwed()
  // The last replay needs Redis and the journal needs the pool: both close after this plugin's hook.
  app.addHook('onClose', async () => {
    await responseCache.close()
    breakers?.dispose()
    await store?.close()
  })
}, { name: 'cache', dependencies: ['request-db'] })

/** L1 over Redis, kept consistent across instances by the invalidation bus on its own connection. */
async function tiered (app: FastifyInstance, l2: RedisStore, l1: MemoryStore, onRemote: (generations: readonly string[], lagMs: number) => void): Promise<TieredStore> {
  // Subscribing takes a connection over for good; its reconnects resubscribe through the bus.
  const subscriber = invalidationSubscriber(app.redis, app.config)
  const bus: InvalidationBus = new InvalidationBus({
    publisher: app.redis,
    subscriber,
    channel: `${app.config.CACHE_PREFIX}:v${CACHE_FORMAT_VERSION}:invalidations`,
    log: app.log,
    listener: {
      remote: (generations, lagMs) => {
        store.dropRemote(generations)
        onRemote(generations, lagMs)
      },
      reset: () => store.dropAll()
    }
  })
  const store = new TieredStore({ l1, l2, bus, l1TtlMs: app.config.CACHE_L1_TTL * 1000 })
  await bus.start(1_000)
  return store
}

/**
 * One Redis is one shard. On a Redis Cluster a shard is a master, found from the client's slot map
 * as it is now (a failover or a reshard moves keys to another master, and so to its breaker).
 */
function shardOf (redis: Redis | Cluster): (key: string) => string {
  if (!isCluster(redis)) return () => 'redis'
  return (key) => masterFor(redis, key) ?? 'cluster'
}

/**
 * A shard's probe: PING its master. ioredis drops a cluster node's connection for good when it is
 * lost (it waits for the slot map to change instead of reconnecting), so a master with no
 * connection is down while the slot map still gives it slots; once it gives it none (replaced by
 * its replica, or resharded away) it has nothing left to guard, and its breaker may close.
 */
async function ping (redis: Redis | Cluster, shard: string): Promise<void> {
  if (!isCluster(redis) || shard === 'cluster') {
    await redis.ping()
    return
  }
  assertClusterReady(redis)
  const node = redis.nodes('master').find(({ options }) => `${options.host}:${options.port}` === shard)
  if (node !== undefined) await node.ping()
  else if (redis.slots.some((owners) => owners[0] === shard)) throw new Error(`${shard} serves slots but has no connection`)
}

/** "20" → always 20 ms; "0-20" → a random whole number of ms from 0 to 20. */
function delayFrom (spec: string): () => number {
  const [low, high = low] = spec.split('-').map(Number) as [number, number?]
  return () => low + Math.floor(Math.random() * (high - low + 1))
}
