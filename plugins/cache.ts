import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Cluster, Redis } from 'ioredis'
import type { Config } from '../src/config.ts'
import { GuardedStore } from '../src/cache/guarded-store.ts'
import { InvalidationBus } from '../src/cache/invalidation-bus.ts'
import { MemoryStore } from '../src/cache/memory-store.ts'
import { OwedLedger } from '../src/cache/owed-ledger.ts'
import { RedisStore } from '../src/cache/redis-store.ts'
import { ResponseCache } from '../src/cache/response-cache.ts'
import { TieredStore } from '../src/cache/tiered-store.ts'
import { CACHE_FORMAT_VERSION } from '../src/cache/views.ts'
import { owedInvalidations } from '../src/repositories/owed-invalidations.ts'
import { assertClusterReady, isCluster, masterFor } from '../src/redis/cluster.ts'
import { invalidationSubscriber } from '../src/redis/subscriber.ts'

declare module 'fastify' {
  interface FastifyInstance {
    cache: ResponseCache<FastifyRequest>
  }
}

/**
 * The response cache for CACHE_MODE (off, memory, redis or tiered). In redis and tiered modes
 * Redis is optional at run time: its store sits behind per-shard breakers, and what it misses of
 * the writes is owed, journaled in PostgreSQL, and replayed.
 */
export default fp(async function cache (app) {
  const config = app.config
  const tiered = config.CACHE_MODE === 'tiered' ? tieredStore(app) : undefined
  const store = config.usesRedis
    ? new GuardedStore(tiered ?? redisStore(app), {
      shardOf: shardOf(app.redis),
      probe: (shard) => ping(app.redis, shard),
      log: app.log
    })
    : config.CACHE_MODE === 'memory' ? new GuardedStore(memoryStore(config)) : undefined
  const ledger = store?.canFail
    ? new OwedLedger({
      store,
      journal: owedInvalidations(app.pg.pool, `${config.CACHE_PREFIX}:v${CACHE_FORMAT_VERSION}:`),
      log: app.log
    })
    : undefined
  const responseCache = new ResponseCache<FastifyRequest>({
    mode: config.CACHE_MODE,
    store,
    ...(ledger && { ledger }),
    prefix: config.CACHE_PREFIX,
    ttlSeconds: config.CACHE_TTL,
    negativeTtlSeconds: config.CACHE_NEGATIVE_TTL,
    invalidate: config.CACHE_INVALIDATE,
    fence: config.CACHE_FENCE,
    precompress: config.CACHE_PRECOMPRESS,
    graceSeconds: config.CACHE_GRACE,
    refreshAhead: config.CACHE_REFRESH_AHEAD,
    ...(config.FAULT_LOAD_DELAY_MS !== undefined && { loadDelayMs: delayFrom(config.FAULT_LOAD_DELAY_MS) }),
    ...(config.CACHE_LEASE_MS !== undefined && { leaseMs: config.CACHE_LEASE_MS })
  })
  app.decorate('cache', responseCache)

  await tiered?.start((generations, lagMs) => responseCache.remoteInvalidated(generations, lagMs))
  // Takes over what stopped instances still owed: their views are BYPASS until it is replayed.
  await ledger?.restore()
  // The last replay needs Redis and the journal needs the pool: both close after this plugin's hook.
  app.addHook('onClose', () => responseCache.close())
}, { name: 'cache', dependencies: ['request-db'] })

function memoryStore (config: Config): MemoryStore {
  return new MemoryStore({ maxBytes: config.CACHE_MEMORY_MAX_BYTES, maxEntries: config.CACHE_MEMORY_MAX_ENTRIES })
}

function redisStore (app: FastifyInstance): RedisStore {
  if (!app.hasDecorator('redis')) {
    throw new Error(`CACHE_MODE=${app.config.CACHE_MODE} needs the redis plugin registered first`)
  }
  const { CACHE_TTL, CACHE_NEGATIVE_TTL, CACHE_GRACE } = app.config
  const { CACHE_INVALIDATION_REPLICAS, REDIS_COMMAND_TIMEOUT_MS } = app.config
  // WAIT answers within half the command timeout, so its count comes back before the client gives up.
  const durability = CACHE_INVALIDATION_REPLICAS > 0
    ? { replicas: CACHE_INVALIDATION_REPLICAS, waitMs: Math.max(1, Math.floor(REDIS_COMMAND_TIMEOUT_MS / 2)) }
    : undefined
  return new RedisStore(app.redis, (Math.max(CACHE_TTL, CACHE_NEGATIVE_TTL) + CACHE_GRACE) * 1000, durability)
}

/** L1 over Redis, kept consistent across instances by the invalidation bus on its own connection. */
function tieredStore (app: FastifyInstance): TieredStore {
  const l2 = redisStore(app)
  // Subscribing takes a connection over for good; its reconnects resubscribe through the bus.
  const bus = new InvalidationBus({
    publisher: app.redis,
    subscriber: invalidationSubscriber(app.redis, app.config),
    channel: `${app.config.CACHE_PREFIX}:v${CACHE_FORMAT_VERSION}:invalidations`,
    log: app.log
  })
  return new TieredStore({ l1: memoryStore(app.config), l2, bus, l1TtlMs: app.config.CACHE_L1_TTL * 1000 })
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
  else if (redis.slots.some((owners) => owners[0] === shard)) {
    throw new Error(`${shard} serves slots but has no connection`)
  }
}

/** "20" → always 20 ms; "0-20" → a random whole number of ms from 0 to 20. */
function delayFrom (spec: string): () => number {
  const [low, high = low] = spec.split('-').map(Number) as [number, number?]
  return () => low + Math.floor(Math.random() * (high - low + 1))
}
