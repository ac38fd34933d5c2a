import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { CircuitBreaker } from '../src/cache/circuit-breaker.ts'
import { InvalidationBus } from '../src/cache/invalidation-bus.ts'
import { MemoryStore } from '../src/cache/memory-store.ts'
import { RedisStore } from '../src/cache/redis-store.ts'
import { ResponseCache } from '../src/cache/response-cache.ts'
import type { CacheStore } from '../src/cache/store.ts'
import { TieredStore } from '../src/cache/tiered-store.ts'
import { CACHE_FORMAT_VERSION } from '../src/cache/views.ts'
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
  let breaker: CircuitBreaker | undefined
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
    breaker = new CircuitBreaker({
      threshold: 3,
      cooldownMs: 500,
      maxCooldownMs: 5_000,
      probe: async () => {
        await app.redis.ping()
        await responseCache.settleOwedInvalidations()
      },
      canClose: () => !responseCache.owesInvalidations,
      onChange: (state, reason) => {
        if (state === 'open') app.log.warn({ reason }, 'cache circuit breaker opened: serving from PostgreSQL (X-Cache: BYPASS)')
        else app.log.info({ reason }, 'cache circuit breaker closed: Redis answers again')
      }
    })
    app.addHook('onClose', async () => breaker?.dispose())
  }

  const responseCache = new ResponseCache({
    mode: config.CACHE_MODE,
    store,
    breaker,
    prefix: config.CACHE_PREFIX,
    ttlSeconds: config.CACHE_TTL,
    negativeTtlSeconds: config.CACHE_NEGATIVE_TTL,
    invalidate: config.CACHE_INVALIDATE,
    fence: config.CACHE_FENCE,
    log: app.log,
    ...(config.FAULT_LOAD_DELAY_MS !== undefined && { loadDelayMs: delayFrom(config.FAULT_LOAD_DELAY_MS) }),
    ...(config.CACHE_LEASE_MS !== undefined && { leaseMs: config.CACHE_LEASE_MS })
  })
  app.decorate('cache', responseCache)
  app.addHook('onClose', async () => store?.close())
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

/** "20" → always 20 ms; "0-20" → a random whole number of ms from 0 to 20. */
function delayFrom (spec: string): () => number {
  const [low, high = low] = spec.split('-').map(Number) as [number, number?]
  return () => low + Math.floor(Math.random() * (high - low + 1))
}
