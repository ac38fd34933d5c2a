import type { InvalidationBus } from './invalidation-bus.ts'
import type { MemoryStore } from './memory-store.ts'
import type { RedisStore } from './redis-store.ts'
import { SingleFlight } from '../single-flight.ts'
import type { CacheStore, EntryLife, InspectableStore, Lookup, StoredEntry } from './store.ts'
import { BUS_START_WAIT_MS } from '../tuning.ts'

/** Separates the Redis stamp from the L1 stamp inside one Lookup stamp (neither contains it). */
const TIERS = '#'

/**
 * CACHE_MODE=tiered: an in-process LRU (L1) in front of Redis (L2). An L1 hit does no I/O.
 *
 * L1 entries are only ever copies of what Redis holds and are checked against generations kept
 * in this process: a local write bumps them at once, another instance's write bumps them when
 * its message arrives on the invalidation bus, and a short TTL bounds anything else. L1 is used
 * only while the bus is listening; when the subscriber drops, L1 is emptied and every read goes
 * to Redis until it is back (messages sent meanwhile are lost for good).
 *
 * The same fence as Redis's guards L1: the L1 stamp is read before Redis is asked, so an
 * invalidation that arrives while a lookup or a load is in flight makes its L1 copy dead on
 * arrival. Its stamp also carries the bus epoch, so a fill that began before a disconnect is
 * refused after it.
 *
 * When an L1 copy expires under load, every reader in the process misses L1 at once; they share
 * one Redis read (keyed by the L1 stamp, so a read that began before an invalidation is never
 * shared with one that began after it).
 */
export class TieredStore implements CacheStore, InspectableStore {
  readonly #l1: MemoryStore
  readonly #l2: RedisStore
  readonly #bus: InvalidationBus
  readonly #l1TtlMs: number
  readonly #refreshes = new SingleFlight<Lookup>()

  constructor (options: { l1: MemoryStore, l2: RedisStore, bus: InvalidationBus, l1TtlMs: number }) {
    this.#l1 = options.l1
    this.#l2 = options.l2
    this.#bus = options.bus
    this.#l1TtlMs = options.l1TtlMs
  }

  /**
   * Starts listening to the bus: another instance's write drops the L1 copies it changed (then
   * `onRemote` hears of it), and a lost subscription drops them all (messages may have been lost).
   */
  async start (onRemote: (generations: readonly string[], lagMs: number) => void): Promise<void> {
    await this.#bus.start({
      remote: (generations, lagMs) => {
        this.#l1.invalidate(generations)
        onRemote(generations, lagMs)
      },
      reset: () => this.#l1.clear()
    }, BUS_START_WAIT_MS)
  }

  lookup (key: string, generations: readonly string[]): Lookup | Promise<Lookup> {
    if (!this.#bus.listening) return this.#lookupL2(key, generations, '')
    const local = this.#l1.lookup(key, generations)
    if (local.state === 'hit') return { state: 'hit', response: local.response, stamp: '', tier: 'l1' }
    const l1Stamp = `${this.#bus.epoch}:${local.stamp}`
    return this.#refreshes.run(`${key}${TIERS}${l1Stamp}`, () => this.#lookupL2(key, generations, l1Stamp))
      .then(({ value }) => value)
  }

  async fill (entries: readonly StoredEntry[], generations: readonly string[], stamp: string,
    life: EntryLife, fenced: boolean): Promise<boolean> {
    const split = stamp.lastIndexOf(TIERS)
    // Redis counts the entry's life from before its answer came back: so does the copy's.
    const sent = Date.now()
    const stored = await this.#l2.fill(entries, generations, stamp.slice(0, split), life, fenced)
    if (stored) {
      const remainingMs = (life.refreshMs ?? life.ttlMs) - (Date.now() - sent)
      this.#copyToL1(entries, generations, stamp.slice(split + 1), fenced, remainingMs)
    }
    return stored
  }

  /**
   * Local L1 copies die first (even if Redis then fails), then Redis, then the other instances'
   * copies, but for a database change: every instance hears of that one from PostgreSQL itself.
   */
  async invalidate (generations: readonly string[], changeId?: string): Promise<void> {
    this.#l1.invalidate(generations)
    await this.#l2.invalidate(generations, changeId)
    if (changeId === undefined) await this.#bus.publish(generations)
  }

  lease (key: string, stamp: string, ms: number): Promise<boolean> {
    return this.#l2.lease(key, stamp, ms)
  }

  inspect (key: string): Promise<{ ttlMs: number, bytes: number } | undefined> {
    return this.#l2.inspect(key)
  }

  generationValues (generations: readonly string[]): Promise<string[]> {
    return this.#l2.generationValues(generations)
  }

  async flush (pattern: string): Promise<number> {
    await this.#l1.flush(pattern)
    // Other instances' L1 copies of flushed entries simply live out CACHE_L1_TTL: a flush is a
    // memory-pressure tool, not an invalidation (writes invalidate through generations).
    return this.#l2.flush(pattern)
  }

  async close (): Promise<void> {
    await this.#bus.close()
    this.#l1.clear()
  }

  #lookupL2 (key: string, generations: readonly string[], l1Stamp: string): Promise<Lookup> {
    return this.#l2.lookup(key, generations).then((lookup) => {
      // Entries written before expiries were recorded (NaN) get the L1 TTL alone. A copy of an entry
      // due for a refresh lives until its expiry: the refresh this hit starts replaces it.
      if (lookup.state === 'hit') {
        const entries = [{ key, response: lookup.response }]
        const until = lookup.refreshDue ? lookup.expiresAt : lookup.refreshAt ?? lookup.expiresAt
        this.#copyToL1(entries, generations, l1Stamp, true, (until ?? NaN) - Date.now())
      }
      return { ...lookup, stamp: `${lookup.stamp}${TIERS}${l1Stamp}`, sharedStamp: lookup.stamp }
    })
  }

  /**
   * A copy lives CACHE_L1_TTL, or less when the Redis entry it copies expires sooner or is due for a
   * refresh sooner: L1 hits never refresh, so a copy must not hide the Redis entry's refresh point.
   */
  #copyToL1 (
    entries: readonly StoredEntry[],
    generations: readonly string[],
    l1Stamp: string,
    fenced: boolean,
    remainingMs: number
  ): void {
    if (l1Stamp === '' || !this.#bus.listening) return
    const separator = l1Stamp.indexOf(':')
    if (Number(l1Stamp.slice(0, separator)) !== this.#bus.epoch) return
    const ttlMs = Number.isNaN(remainingMs) ? this.#l1TtlMs : Math.min(this.#l1TtlMs, remainingMs)
    if (ttlMs > 0) this.#l1.fill(entries, generations, l1Stamp.slice(separator + 1), { ttlMs }, fenced)
  }
}
