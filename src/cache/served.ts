import type { CachedResponse } from './stores/store.ts'

/**
 * What happened to a response, as `X-Cache` says it. STALE: its load failed, and a stored response
 * that had only expired (nothing invalidated it) was served instead, in its grace (CACHE_GRACE).
 */
export type CacheOutcome = 'HIT' | 'MISS' | 'BYPASS' | 'STALE' | 'OFF'

/** A read's answer: the response, how the cache came by it, and how long the cache step took. */
export interface Served {
  /** In the coding asked for, or `identity` where that coding would not make it smaller. */
  response: CachedResponse
  outcome: CacheOutcome
  /** Lookup, and the fill on a miss; absent when the cache is off. */
  cacheMs?: number
  /** Set when the response came from the tiered store's in-process L1 (no I/O). */
  tier?: 'l1' | undefined
  /** STALE: seconds since the response was stored (the `Age` header), and the load's failure it stands in for. */
  stale?: { ageSeconds: number | undefined, error: unknown }
}

/** Loads a view's response from PostgreSQL, as the bytes to cache (`identity`: the serializer's own). */
export type Produce = () => Promise<CachedResponse>
