import type { CircuitBreaker } from './circuit-breaker.ts'
import { ShardBreakers } from './shard-breakers.ts'
import { InvalidationError, type AppStore, type EntryLife, type Lookup, type StoredEntry } from '../stores/store.ts'
import { BREAKER } from '../tuning.ts'
import type { View } from '../views.ts'

/** What a miss's store did: kept the response, was refused by the fence, or failed. */
export type FillResult = 'stored' | 'refused' | 'failed'

/** The few log levels the cache writes at (pino's, and so Fastify's, logger fits). */
export interface CacheLog {
  info: (details: object, message: string) => void
  warn: (details: object, message: string) => void
  error: (details: object, message: string) => void
}

/** How a store that can fail (Redis) is split into shards and probed while one is down. */
export interface ShardGuard {
  /** Which shard serves `key` now: a Redis Cluster master (`host:port`), or the one Redis. */
  shardOf: (key: string) => string
  /** Resolves once `shard` answers again. */
  probe: (shard: string) => Promise<void>
  log: CacheLog
}

/** One shard's part of a replay: sent with one call, its breaker told how it went. */
export interface ShardBatch {
  readonly generations: readonly string[]
  readonly breaker: CircuitBreaker
}

/**
 * The store as the cache uses it. A store that cannot fail (memory) is passed through as it is.
 * A store that can (Redis) sits behind a circuit breaker per shard, as a driver behind a guard:
 * a shard whose breaker is open is not asked at all, a failure counts against its shard's breaker
 * and comes back as "cannot be asked" (`undefined`, a BYPASS) rather than as an error, and a
 * success closes the count again.
 */
export class GuardedStore {
  readonly store: AppStore
  /** Present only when the store can fail. */
  readonly #breakers: ShardBreakers | undefined
  readonly #log: CacheLog | undefined
  readonly #shardClosedListeners: Array<() => void> = []

  constructor (store: AppStore, guard?: ShardGuard) {
    this.store = store
    if (guard === undefined) return
    const { log } = guard
    this.#log = log
    this.#breakers = new ShardBreakers({
      ...BREAKER,
      shardOf: guard.shardOf,
      probe: guard.probe,
      onChange: (shard, state, reason) => {
        if (state === 'open') {
          log.warn({ reason, shard }, 'cache circuit breaker opened: serving from PostgreSQL (X-Cache: BYPASS)')
          return
        }
        log.info({ reason, shard }, 'cache circuit breaker closed: Redis answers again')
        for (const listener of this.#shardClosedListeners) listener()
      }
    })
  }

  /** Whether the store can fail (and so owes invalidations when it does). */
  get canFail (): boolean {
    return this.#breakers !== undefined
  }

  /** The shards whose breaker is open now. */
  get openShards (): string[] {
    return this.#breakers?.open ?? []
  }

  /** Calls `listener` each time a shard's breaker closes: what was owed to it can be paid then. */
  onShardClosed (listener: () => void): void {
    this.#shardClosedListeners.push(listener)
  }

  /**
   * The lookup of `key` (one of `view`'s representations), or `undefined` when the store cannot be
   * asked (its shard is down or it failed).
   */
  lookup (view: View, key: string): Lookup | Promise<Lookup | undefined> | undefined {
    // Memory: synchronous, cannot fail.
    if (this.#breakers === undefined) return this.store.lookup(key, view.dependsOn)
    const breaker = this.#breakers.for(view.key)
    if (breaker.isOpen) return undefined
    const pending = this.store.lookup(key, view.dependsOn)
    // A tiered L1 hit is synchronous: it asked nothing of Redis, so tells the breaker nothing.
    if (!(pending instanceof Promise)) return pending
    return pending.then((lookup) => {
      breaker.success()
      return lookup
    }, (error: unknown) => {
      breaker.failure(error)
      return undefined
    })
  }

  /** Stores `entries`, every one of them a representation of `view`'s response (so in its shard). */
  async fill (
    view: View,
    stamp: string,
    entries: readonly StoredEntry[],
    life: EntryLife,
    fenced: boolean
  ): Promise<FillResult> {
    try {
      return await this.store.fill(entries, view.dependsOn, stamp, life, fenced) ? 'stored' : 'refused'
    } catch (error) {
      this.#breakers?.for(view.key).failure(error)
      return 'failed'
    }
  }

  /**
   * A write's invalidation. Shards known to be down are not asked: their generations are owed at
   * once, before anything is sent. When sending fails, everything sent is owed, not only what
   * failed: in tiered mode the other instances hear of an invalidation only once it all went through.
   * @param owe called (synchronously) with what Redis may not have the new value of
   * @param changeId a database change's id (CacheStore.invalidate); what is owed is replayed plainly
   */
  async invalidate (
    generations: readonly string[],
    owe: (generations: readonly string[]) => void,
    changeId?: string
  ): Promise<'done' | 'owed'> {
    const breakers = this.#breakers
    if (breakers === undefined) {
      await this.store.invalidate(generations, changeId)
      return 'done'
    }
    const shards = [...breakers.byShard(generations)]
    const down = shards.filter(([breaker]) => breaker.isOpen).flatMap(([, group]) => group)
    const sent = down.length === 0
      ? generations
      : shards.filter(([breaker]) => !breaker.isOpen).flatMap(([, group]) => group)
    if (down.length > 0) owe(down)
    try {
      if (sent.length > 0) await this.store.invalidate(sent, changeId)
    } catch (error) {
      owe(sent)
      this.#log?.error({ err: error, generations: sent.length },
        'cache invalidation failed; it will be replayed when Redis answers')
      const failed = error instanceof InvalidationError ? error.generations : sent
      const reason = `invalidation failed: ${(error as Error).message}`
      for (const breaker of breakers.byShard(failed).keys()) breaker.open(reason)
      return 'owed'
    }
    for (const [breaker] of shards) if (!breaker.isOpen) breaker.success()
    return down.length > 0 ? 'owed' : 'done'
  }

  /** `generations` by the shard serving each, leaving out shards whose breaker is open unless `everyShard`. */
  batches (generations: Iterable<string>, everyShard: boolean): ShardBatch[] {
    if (this.#breakers === undefined) return []
    return [...this.#breakers.byShard(generations)]
      .filter(([breaker]) => everyShard || !breaker.isOpen)
      .map(([breaker, group]) => ({ breaker, generations: group }))
  }

  /**
   * Sends one shard's batch of a replay. Its breaker hears how it went, unless `quiet` (the last
   * replay, on close, leaves the breakers alone). Rejects when the shard failed.
   */
  async replay ({ breaker, generations }: ShardBatch, quiet: boolean): Promise<void> {
    try {
      await this.store.invalidate(generations)
    } catch (error) {
      if (!quiet) breaker.open(`replaying owed invalidations failed: ${(error as Error).message}`)
      throw error
    }
    if (!quiet) breaker.success()
  }

  /** Shared stores only: takes `key`'s lease for `stamp`. Rejects on any Redis trouble. */
  lease (key: string, stamp: string, ms: number): Promise<boolean> | undefined {
    return this.store.lease?.(key, stamp, ms)
  }

  async close (): Promise<void> {
    this.#breakers?.dispose()
    await this.store.close()
  }
}
