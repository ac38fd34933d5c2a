import { createRequire } from 'node:module'
import type { onRouteHookHandler } from 'fastify'
import type { Cluster, Redis } from 'ioredis'

type Done = (error: Error | null, result?: { current: number, ttl: number }) => void
interface Store {
  incr: (key: string, done: Done, timeWindow: number, max: number) => void
  child: (routeOptions: object) => Store
}

// @fastify/rate-limit's own stores (not in its typings): the Redis one shares counters between
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

export interface WriteLimitStoreOptions {
  /** Where counters are shared between instances; none: each instance counts on its own. */
  redis: Redis | Cluster | undefined
  /** The prefix of the shared counters' keys. */
  prefix: string
  /** Whether the shared counters may be asked now (false: count in this process). */
  sharedUsable: () => boolean
}

/** The store class @fastify/rate-limit constructs (it takes a class, built with no arguments). */
export function writeLimitStore ({ redis, prefix, sharedUsable }: WriteLimitStoreOptions): new () => Store {
  return class extends FallbackStore {
    constructor () {
      super(
        redis && new RedisStore(false, false, redis, prefix),
        new LocalStore(false, false, 10_000),
        sharedUsable
      )
    }
  }
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * Opts every write route in to @fastify/rate-limit (which reads `config.rateLimit` in its own
 * onRoute hook, after this one). Reads are not limited (a hit costs less than the check), and
 * carry no hook; the cache panel is tooling with its own guard.
 */
export const limitWrites: onRouteHookHandler = (route) => {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  if (methods.some((method) => WRITES.has(method)) && !route.url.startsWith('/_cache')) {
    route.config = { ...route.config, rateLimit: {} } as typeof route.config
  }
}
