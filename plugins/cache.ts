import fp from 'fastify-plugin'
import { CircuitBreaker } from '../src/cache/circuit-breaker.ts'
import { MemoryStore } from '../src/cache/memory-store.ts'
import { RedisStore } from '../src/cache/redis-store.ts'
import { ResponseCache } from '../src/cache/response-cache.ts'
import type { CacheStore } from '../src/cache/store.ts'

declare module 'fastify' {
  interface FastifyInstance {
    cache: ResponseCache
  }
}

/** The response cache for CACHE_MODE (off, memory or redis). In redis mode Redis is optional at run time. */
export default fp(async function cache (app) {
  const config = app.config
  const maxTtlMs = Math.max(config.CACHE_TTL, config.CACHE_NEGATIVE_TTL) * 1000

  let store: CacheStore | undefined
  let breaker: CircuitBreaker | undefined
  if (config.CACHE_MODE === 'memory') {
    store = new MemoryStore({ maxBytes: config.CACHE_MEMORY_MAX_BYTES, maxEntries: config.CACHE_MEMORY_MAX_ENTRIES })
  } else if (config.CACHE_MODE === 'redis') {
    if (!app.hasDecorator('redis')) throw new Error('CACHE_MODE=redis needs the redis plugin registered first')
    store = new RedisStore(app.redis, maxTtlMs)
    breaker = new CircuitBreaker({
      threshold: 3,
      cooldownMs: 500,
      maxCooldownMs: 5_000,
      probe: async () => {
        await app.redis.ping()
        await responseCache.settleOwedInvalidations()
      },
      onChange: (state, reason) => {
        if (state === 'open') app.log.warn({ reason }, 'cache circuit breaker opened: serving from PostgreSQL (X-Cache: BYPASS)')
        else app.log.info({ reason }, 'cache circuit breaker closed: Redis answers again')
      }
    })
    app.addHook('onClose', async () => breaker?.dispose())
  }

  const responseCache = new ResponseCache({
    store,
    breaker,
    prefix: config.CACHE_PREFIX,
    ttlSeconds: config.CACHE_TTL,
    negativeTtlSeconds: config.CACHE_NEGATIVE_TTL,
    invalidate: config.CACHE_INVALIDATE,
    fence: config.CACHE_FENCE,
    log: app.log,
    ...(config.FAULT_LOAD_DELAY_MS !== undefined && { loadDelayMs: delayFrom(config.FAULT_LOAD_DELAY_MS) })
  })
  app.decorate('cache', responseCache)
  app.addHook('onClose', async () => store?.close())
}, { name: 'cache', dependencies: ['request-db'] })

/** "20" → always 20 ms; "0-20" → a random whole number of ms from 0 to 20. */
function delayFrom (spec: string): () => number {
  const [low, high = low] = spec.split('-').map(Number) as [number, number?]
  return () => low + Math.floor(Math.random() * (high - low + 1))
}
