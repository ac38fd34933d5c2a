import type { FastifyBaseLogger } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import type { Config } from '../config.ts'
import type { Queryable } from '../db/queryable.ts'
import { pingShard, shardOf } from '../redis/shards.ts'
import { invalidationSubscriber } from '../redis/subscriber.ts'
import { owedInvalidations } from '../repositories/owed-invalidations.ts'
import { GuardedStore } from './resilience/guarded-store.ts'
import { InvalidationBus } from './stores/invalidation-bus.ts'
import { MemoryStore } from './stores/memory-store.ts'
import { OwedLedger } from './resilience/owed-ledger.ts'
import { RedisStore } from './stores/redis-store.ts'
import { ResponseCache } from './response-cache.ts'
import { TieredStore } from './stores/tiered-store.ts'
import { CACHE_FORMAT_VERSION } from './views.ts'

export interface ResponseCacheDependencies {
  /** The Redis client; required in redis and tiered modes. */
  redis: Redis | Cluster | undefined
  /** Where owed invalidations are journaled. */
  pool: Queryable
  log: FastifyBaseLogger
}

/**
 * The response cache for CACHE_MODE (off, memory, redis or tiered), started: in tiered mode
 * subscribed to the other instances' invalidations, and owing what stopped instances still owed.
 * In redis and tiered modes Redis is optional at run time: its store sits behind per-shard
 * breakers, and what it misses of the writes is owed, journaled in PostgreSQL, and replayed.
 * Its `close()` replays what is still owed, so close it before the Redis client and the pool.
 */
export async function createResponseCache<Context extends object> (
  config: Config,
  { redis, pool, log }: ResponseCacheDependencies
): Promise<ResponseCache<Context>> {
  const { store, tiered } = storesFor(config, redis, log)
  const ledger = store?.canFail
    ? new OwedLedger({
      store,
      journal: owedInvalidations(pool, `${config.CACHE_PREFIX}:v${CACHE_FORMAT_VERSION}:`),
      log
    })
    : undefined
  const cache = new ResponseCache<Context>({
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
    ...(config.FAULT_LOAD_DELAY_MS !== undefined && { faults: { loadDelayMs: delayFrom(config.FAULT_LOAD_DELAY_MS) } }),
    ...(config.CACHE_LEASE_MS !== undefined && { leaseMs: config.CACHE_LEASE_MS })
  })

  await tiered?.start((generations, lagMs) => cache.events.emit('remoteInvalidated', generations, lagMs))
  // Takes over what stopped instances still owed: their views are BYPASS until it is replayed.
  await ledger?.restore()
  return cache
}

/** The store for CACHE_MODE as the cache uses it (none when it is off), and tiered mode's, to start. */
function storesFor (
  config: Config,
  redis: Redis | Cluster | undefined,
  log: FastifyBaseLogger
): { store?: GuardedStore, tiered?: TieredStore } {
  if (config.CACHE_MODE === 'memory') return { store: new GuardedStore(memoryStore(config)) }
  if (!config.usesRedis) return {}
  if (redis === undefined) throw new Error(`CACHE_MODE=${config.CACHE_MODE} needs a Redis client`)
  const tiered = config.CACHE_MODE === 'tiered' ? tieredStore(config, redis, log) : undefined
  // One breaker per shard: per master, on a Redis Cluster.
  const store = new GuardedStore(tiered ?? redisStore(config, redis), {
    shardOf: shardOf(redis),
    probe: (shard) => pingShard(redis, shard),
    log
  })
  return { store, tiered }
}

function memoryStore (config: Config): MemoryStore {
  return new MemoryStore({ maxBytes: config.CACHE_MEMORY_MAX_BYTES, maxEntries: config.CACHE_MEMORY_MAX_ENTRIES })
}

function redisStore (config: Config, redis: Redis | Cluster): RedisStore {
  const { CACHE_TTL, CACHE_NEGATIVE_TTL, CACHE_GRACE } = config
  const { CACHE_INVALIDATION_REPLICAS, REDIS_COMMAND_TIMEOUT_MS } = config
  // WAIT answers within half the command timeout, so its count comes back before the client gives up.
  const durability = CACHE_INVALIDATION_REPLICAS > 0
    ? { replicas: CACHE_INVALIDATION_REPLICAS, waitMs: Math.max(1, Math.floor(REDIS_COMMAND_TIMEOUT_MS / 2)) }
    : undefined
  return new RedisStore(redis, (Math.max(CACHE_TTL, CACHE_NEGATIVE_TTL) + CACHE_GRACE) * 1000, durability)
}

/** L1 over Redis, kept consistent across instances by the invalidation bus on its own connection. */
function tieredStore (config: Config, redis: Redis | Cluster, log: FastifyBaseLogger): TieredStore {
  const l2 = redisStore(config, redis)
  // Subscribing takes a connection over for good; its reconnects resubscribe through the bus.
  const bus = new InvalidationBus({
    publisher: redis,
    subscriber: invalidationSubscriber(redis, config),
    channel: `${config.CACHE_PREFIX}:v${CACHE_FORMAT_VERSION}:invalidations`,
    log
  })
  return new TieredStore({ l1: memoryStore(config), l2, bus, l1TtlMs: config.CACHE_L1_TTL * 1000 })
}

/** "20" → always 20 ms; "0-20" → a random whole number of ms from 0 to 20. */
function delayFrom (spec: string): () => number {
  const [low, high = low] = spec.split('-').map(Number) as [number, number?]
  return () => low + Math.floor(Math.random() * (high - low + 1))
}
