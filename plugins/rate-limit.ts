import { createRequire } from 'node:module'
import fastifyRateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'

type Done = (error: Error | null, result?: { current: number, ttl: number }) => void
interface Store {
  incr: (key: string, done: Done, timeWindow: number, max: number) => void
  child: (routeOptions: object) => Store
}

// The package's own stores (not in its typings): the Redis one shares counters between
// instances, the local one is an LRU in this process. The Redis one works on a Redis Cluster as
// it is: each call is one Lua script on one key, so it never spans slots.
const require = createRequire(import.meta.url)
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  size?: number
) => Store
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: unknown,
  key: string
) => Store

/**
 * Counts in Redis while Redis answers, in this process otherwise: a Redis outage degrades the limit
 * to per-instance instead of lifting it (or failing writes).
 */
class FallbackStore implements Store {
  readonly shared: Store | undefined
  readonly local: Store
  readonly sharedUsable: () => boolean

  constructor (shared: Store | undefined, local: Store, sharedUsable: () => boolean) {
    this.shared = shared
    this.local = local
    this.sharedUsable = sharedUsable
  }

  incr (key: string, done: Done, timeWindow: number, max: number): void {
    if (this.shared === undefined || !this.sharedUsable()) return this.local.incr(key, done, timeWindow, max)
    this.shared.incr(key, (error, result) => {
      if (error) this.local.incr(key, done, timeWindow, max)
      else done(null, result)
    }, timeWindow, max)
  }

  child (routeOptions: object): Store {
    return new FallbackStore(this.shared?.child(routeOptions), this.local.child(routeOptions), this.sharedUsable)
  }
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * Rate limits writes per client IP: RATE_LIMIT_WRITES per RATE_LIMIT_WINDOW_MS per route, then
 * 429 with Retry-After. Reads are not limited (a hit costs less than the check), and carry no hook.
 */
export default fp(async function rateLimit (app) {
  const { RATE_LIMIT_WRITES, RATE_LIMIT_WINDOW_MS, CACHE_PREFIX } = app.config
  const redis = app.hasDecorator('redis') ? app.redis : undefined
  const { cache } = app

  // Opt every write route in (the plugin reads config.rateLimit in its own onRoute hook, after this one).
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (methods.some((method) => WRITES.has(method)) && !route.url.startsWith('/_cache')) {
      route.config = { ...route.config, rateLimit: {} } as typeof route.config
    }
  })

  await app.register(fastifyRateLimit, {
    global: false,
    max: RATE_LIMIT_WRITES,
    timeWindow: RATE_LIMIT_WINDOW_MS,
    store: class extends FallbackStore {
      constructor () {
        super(
          redis && new RedisStore(false, false, redis, `${CACHE_PREFIX}:rate-limit:`),
          new LocalStore(false, false, 10_000),
          () => redis?.status === 'ready' && cache.partlyBypassed !== true
        )
      }
    }
  })
}, { name: 'rate-limit', dependencies: ['cache'] })
