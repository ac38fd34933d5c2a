import type { FillResult } from './resilience/guarded-store.ts'
import type { CacheOutcome } from './served.ts'
import type { View } from './views.ts'

/**
 * What the cache does, for the panel and the metrics, with the context of the read or write (the
 * HTTP request). Every listener is optional and called synchronously: keep them cheap, `served`
 * runs on every hit.
 */
export interface CacheObserver<Context> {
  /** The outcome of a read, with the time the cache step took (lookup, and the fill on a miss). */
  served?: (context: Context, view: View, outcome: CacheOutcome, cacheMs: number) => void
  filled?: (context: Context, view: View, result: FillResult, ms: number) => void
  /** A miss that waited for another request's load instead of querying. */
  joinedFlight?: (context: Context, view: View) => void
  /** Refresh-ahead: a hit near its entry's expiry loaded the view again in the background. */
  refreshed?: (view: View, result: FillResult | 'failed') => void
  invalidated?: (
    context: Context | undefined,
    generations: readonly string[],
    result: 'done' | 'owed',
    ms: number
  ) => void
  /** Tiered mode: another instance's invalidation reached this one, `lagMs` after it was published. */
  remoteInvalidated?: (generations: readonly string[], lagMs: number) => void
  /** A write made in the database, not through this API, was invalidated here (CACHE_DB_INVALIDATION). */
  databaseChanged?: (change: AppliedDatabaseChange) => void
  /** Every view was given a new epoch (Keyspace.epoch): everything stored before is unreachable. */
  epochChanged?: (epoch: string, reason: EpochReason) => void
}

/** Why the views got a new epoch: (re)connected to the changes' channel, another instance's, or a large change. */
export type EpochReason = 'connected' | 'adopted' | 'change'

/** A database change as this instance applied it. */
export interface AppliedDatabaseChange {
  /** The change's id (migration 003's sequence): the same on every instance. */
  id: string
  table: string
  op: string
  /** Rows the change listed, or 'all' (it changed too many to list: a new epoch). */
  rows: number | 'all'
  /** Generations it gave a new value (0 for 'all'). */
  generations: number
  /** Receipt to invalidation done, in ms. */
  ms: number
}

type Listener<Context, Name extends keyof CacheObserver<Context>> = NonNullable<CacheObserver<Context>[Name]>

/**
 * The cache's events, fanned out to every observer. Each fact is emitted by the module that knows
 * it: the read path (served, filled, joinedFlight, refreshed, invalidated), the invalidation bus
 * (remoteInvalidated), the database-change listener (databaseChanged, epochChanged).
 */
export class CacheEvents<Context> {
  readonly #observers: Array<CacheObserver<Context>> = []
  readonly #served: Array<Listener<Context, 'served'>> = []

  observe (observer: CacheObserver<Context>): void {
    this.#observers.push(observer)
    if (observer.served !== undefined) this.#served.push(observer.served)
  }

  /** `served`, which every read emits: its listeners kept apart and called without spreading the facts. */
  served (context: Context, view: View, outcome: CacheOutcome, cacheMs: number): void {
    for (const listener of this.#served) listener(context, view, outcome, cacheMs)
  }

  emit<Name extends keyof CacheObserver<Context>> (name: Name, ...facts: Parameters<Listener<Context, Name>>): void {
    for (const observer of this.#observers) {
      const listener = observer[name] as ((...facts: Parameters<Listener<Context, Name>>) => void) | undefined
      if (listener !== undefined) listener(...facts)
    }
  }
}
