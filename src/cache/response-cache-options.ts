import type { CacheMode } from '../config.ts'
import type { CacheEvents } from './events.ts'
import type { LifeSettings } from './fill-policy.ts'
import type { OwedLedger } from './resilience/owed-ledger.ts'
import type { GuardedStore } from './resilience/guarded-store.ts'
import type { View } from './views.ts'

// What a ResponseCache is made from (create-response-cache.ts maps the configuration onto it): its
// settings change with the configuration, the read path with the cache's rules.

/** Test seams: faults a test injects into the read path (never set in production). */
export interface CacheFaults {
  /** Milliseconds every load waits after reading (widens the race window). */
  loadDelayMs?: (() => number) | undefined
  /** Runs after a miss has loaded and before it stores (to force the race). */
  beforeFill?: ((view: View) => Promise<void>) | undefined
}

export interface ResponseCacheOptions<Context> extends LifeSettings {
  mode: CacheMode
  /** No store: the cache is off and every read goes to PostgreSQL. */
  store: GuardedStore | undefined
  /** Present when the store can fail (Redis): what it may have missed, replayed until it has it. */
  ledger?: OwedLedger
  prefix: string
  invalidate: boolean
  fence: boolean
  /**
   * Keep (and send) the compressed representations, made once per fill. `false`: identity only,
   * looked up and stored whatever the request accepts; whoever sends it compresses it.
   */
  precompress: boolean
  /** CACHE_LEASE_MS: instances missing one key load it once; the others wait up to this long. */
  leaseMs?: number
  /** Where what the cache does is told; a cache of its own when not given. */
  events?: CacheEvents<Context>
  faults?: CacheFaults
}
