import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheMode } from '../config.ts'
import { CacheEvents } from './events.ts'
import { fencedFill, waitForLeaseHolder } from './fill-policy.ts'
import type { FillResult, GuardedStore } from './resilience/guarded-store.ts'
import { ENCODINGS, type Encoding } from './encodings.ts'
import type { OwedLedger } from './resilience/owed-ledger.ts'
import { FreshFlight, SingleFlight } from './single-flight.ts'
import { representationsOf, type Representations } from './representations.ts'
import { ReadTrust } from './read-trust.ts'
import type { CacheFaults, ResponseCacheOptions } from './response-cache-options.ts'
import type { CacheOutcome, Produce, Served } from './served.ts'
import type { CachedResponse, Hit, InspectableStore, Lookup } from './stores/store.ts'
import { keyspace, leaseKey, type Keyspace, type View } from './views.ts'

/** What a miss's load makes: every representation when it was stored, only `identity` when another instance's was. */
type Loaded = Partial<Record<Encoding, CachedResponse>> & { identity: CachedResponse }

/**
 * Cache-aside for whole responses, knowing nothing of HTTP. A read looks its view up; a hit
 * answers with the stored bytes as they are (no parse, no serialisation); a miss loads once per
 * process however many reads are waiting (single-flight) and stores what it loaded, fenced. A 404
 * is stored too (for `negativeTtlSeconds`), so asking for ids that do not exist cannot bypass the
 * cache. Writes call `invalidate` after they commit.
 *
 * `Context` is what observers are told a read or a write belongs to (the HTTP request).
 */
export class ResponseCache<Context extends object = object> {
  /** The views' keys and generations; its epoch is the database-change listener's to change. */
  readonly keys: Keyspace
  readonly events: CacheEvents<Context>
  /** Set by the database-change listener, read by every read. */
  readonly trust = new ReadTrust()
  readonly faults: CacheFaults

  readonly #store: GuardedStore | undefined
  readonly #ledger: OwedLedger | undefined
  readonly #options: ResponseCacheOptions<Context>
  readonly #flights = new SingleFlight<Loaded>()
  readonly #bypassFlights = new FreshFlight<CachedResponse>()
  readonly #refreshes = new SingleFlight<void>()
  /** The codings a fill stores: all of them, or identity alone without `precompress`. */
  readonly #stored: readonly Encoding[]
  /** Tells the other instances what this one owes (owed-announcement.ts), where they can be told. */
  #announceOwed: ((generations: readonly string[]) => Promise<void>) | undefined

  constructor (options: ResponseCacheOptions<Context>) {
    this.#options = options
    this.#stored = options.precompress ? ENCODINGS : ['identity']
    this.#store = options.store
    this.#ledger = options.ledger
    this.keys = keyspace(options.prefix)
    this.events = options.events ?? new CacheEvents()
    this.faults = options.faults ?? {}
  }

  get mode (): CacheMode {
    return this.#options.mode
  }

  /** The store, for the panel's metadata and flushes (never its values). */
  get store (): InspectableStore | undefined {
    return this.#store?.store
  }

  /**
   * True while part of the cache is read from PostgreSQL: a shard's breaker is open, or an
   * invalidation is owed. `undefined` when the store cannot fail (memory, or no cache).
   */
  get partlyBypassed (): boolean | undefined {
    if (this.#ledger === undefined) return undefined
    return this.#store!.openShards.length > 0 || this.#ledger.size > 0
  }

  /** Stops replaying, after a last bounded replay, then closes the store. */
  async close (): Promise<void> {
    await this.#ledger?.close()
    await this.#store?.close()
  }

  /**
   * A view's response in `encoding`: from the cache when it holds a valid one, else from
   * `produce`. A lookup reads only that representation. Synchronous on a memory hit: no promise,
   * no extra turn of the event loop.
   */
  read (view: View, accepted: Encoding, produce: Produce, context: Context): Served | Promise<Served> {
    const encoding = this.#options.precompress ? accepted : 'identity'
    const store = this.#store
    if (store === undefined) return this.#readUncached(view, encoding, produce, context)

    const started = performance.now()
    const key = view.keys[encoding]
    const trust = this.trust
    const pending = trust.readsBypassed || trust.sharedDistrusted || this.#ledger?.unsettled(view.dependsOn)
      ? undefined
      : store.lookup(view, key)
    if (!(pending instanceof Promise)) {
      const lookupMs = performance.now() - started
      if (pending?.state === 'hit') return this.#hit(store, view, pending, lookupMs, produce, context)
      return this.#miss(store, view, encoding, pending, lookupMs, produce, context)
    }
    return pending.then((lookup) => {
      const lookupMs = performance.now() - started
      if (lookup?.state === 'hit') return this.#hit(store, view, lookup, lookupMs, produce, context)
      return this.#miss(store, view, encoding, lookup, lookupMs, produce, context)
    })
  }

  /**
   * Makes every response depending on `generations` invalid, on every instance. Call it after
   * the write has committed and before answering, so that a client that saw the write's answer
   * can never read the old state back (read-your-writes).
   * @param changeId set for a database change, which every instance applies (CacheStore.invalidate)
   */
  async invalidate (generations: readonly string[], context?: Context, changeId?: string): Promise<void> {
    const store = this.#store
    if (store === undefined || !this.#options.invalidate || generations.length === 0) return
    const started = performance.now()
    // The write has committed: what Redis may not have is owed, and the views depending on it
    // are not read from the cache until it has been replayed.
    const owed = new Set<string>()
    const result = await store.invalidate(generations, (some) => {
      for (const generation of some) owed.add(generation)
      this.#ledger?.owe(some)
    }, changeId)
    // Other instances may reach Redis (now, or before this one does): they owe it too before the
    // write answers. A database change needs no telling: every instance applies it itself.
    if (owed.size > 0 && changeId === undefined) await this.#announceOwed?.([...owed])
    this.events.emit('invalidated', context, generations, result, performance.now() - started)
  }

  /** Where this instance's owed invalidations are told to the others (the database-change channel). */
  announceOwedWith (announce: (generations: readonly string[]) => Promise<void>): void {
    this.#announceOwed = announce
  }

  /**
   * Another instance answered a write whose invalidation Redis did not get: the generations of this
   * keyspace among `generations` are owed here too, until this instance has replayed them itself.
   * An instance whose store cannot fail (memory) shares nothing, and owes nothing.
   */
  owedElsewhere (generations: readonly string[]): void {
    const ledger = this.#ledger
    if (ledger === undefined) return
    const ours = generations.filter((generation) => generation.startsWith(this.keys.namespace))
    if (ours.length === 0) return
    ledger.adopt(ours)
  }

  async #readUncached (view: View, encoding: Encoding, produce: Produce, context: Context): Promise<Served> {
    const response = await this.#encoded(await this.#load(produce), encoding)
    this.events.served(context, view, 'OFF', 0)
    return { response, outcome: 'OFF' }
  }

  /** Nothing is stored: only the representation this request is sent is made. */
  async #encoded (identity: CachedResponse, encoding: Encoding): Promise<CachedResponse> {
    return encoding === 'identity' ? identity : (await representationsOf(identity, [encoding]))[encoding]
  }

  #hit (store: GuardedStore, view: View, lookup: Hit, lookupMs: number, produce: Produce, context: Context): Served {
    if (lookup.refreshDue && this.#options.refreshAhead) this.#refreshAhead(store, view, lookup, produce, context)
    return this.#served(context, view, lookup.response, 'HIT', lookupMs, lookup.tier)
  }

  /**
   * Refresh-ahead: a hit past its entry's refresh point is served as it is, and the view is loaded
   * again in the background (once at a time per view in this process; with CACHE_LEASE_MS, by one
   * instance), so the TTL of a key read all the time never runs out under its readers. The fill is
   * fenced under the hit's stamp like any other: a write meanwhile refuses it. A failed refresh
   * changes nothing: the entry serves until it expires, and its next hit tries again.
   */
  #refreshAhead (store: GuardedStore, view: View, lookup: Hit, produce: Produce, context: Context): void {
    this.#refreshes.run(view.key, async () => {
      const { leaseMs } = this.#options
      const stamp = lookup.sharedStamp ?? lookup.stamp
      const leased = leaseMs === undefined ? undefined : store.lease(leaseKey(view), stamp, leaseMs)
      if (leased !== undefined && !await leased) return
      const representations = await representationsOf(await this.#load(produce), this.#stored)
      this.events.emit('refreshed', view, await this.#fill(context, store, view, lookup.stamp, representations))
    }).catch(() => this.events.emit('refreshed', view, 'failed'))
  }

  /** `lookup` is undefined when the store cannot be asked: BYPASS. */
  async #miss (
    store: GuardedStore,
    view: View,
    encoding: Encoding,
    lookup: Lookup | undefined,
    lookupMs: number,
    produce: Produce,
    context: Context
  ): Promise<Served> {
    if (lookup === undefined) {
      // Serve from PostgreSQL, still one load per key at a time. Without the store's generations
      // this read cannot tell which writes any instance made since a load began, so it shares only
      // a load that begins after it came (FreshFlight).
      let bypassed: { value: CachedResponse, shared: boolean }
      try {
        bypassed = await this.#bypassFlights.run(view.key, () => this.#load(produce))
      } catch (error) {
        if (!this.trust.sharedDistrusted) throw error
        return this.#servedStale(store, view, encoding, error, lookupMs, context)
      }
      const { value, shared } = bypassed
      if (shared) this.events.emit('joinedFlight', context, view)
      return this.#served(context, view, await this.#encoded(value, encoding), 'BYPASS', lookupMs)
    }
    // Reads that observed the same generations share one load; a read that observed newer ones
    // (it came after a write) starts its own.
    const flight = this.#flights.run(`${view.key}|${lookup.stamp}`, async () => {
      const filledElsewhere = await waitForLeaseHolder(store, view, lookup.sharedStamp ?? lookup.stamp,
        this.#options.leaseMs)
      if (filledElsewhere) return { identity: filledElsewhere }
      const representations = await representationsOf(await this.#load(produce), this.#stored)
      await this.faults.beforeFill?.(view)
      await this.#fill(context, store, view, lookup.stamp, representations)
      return representations
    })
    let loaded: Awaited<typeof flight>
    try {
      loaded = await flight
    } catch (error) {
      if (lookup.state !== 'expired') throw error
      return this.#servedStale(store, view, encoding, error, lookupMs, context)
    }
    const { value, shared } = loaded
    if (shared) this.events.emit('joinedFlight', context, view)
    // Only another instance's fill, read back from Redis, comes without the other codings: the
    // requested one is then made here, as for a bypass, so a waiter gets the coding it asked for.
    const response = value[encoding] ?? await this.#encoded(value.identity, encoding)
    return this.#served(context, view, response, 'MISS', lookupMs)
  }

  /**
   * Grace (CACHE_GRACE): the load failed, and the lookup found the stored response expired but
   * valid. A write may have landed while the load ran, so it is looked up again, and served only if
   * it is still valid and nothing is owed for it: no response any acknowledged write invalidated is
   * ever served. Otherwise the load's error stands (a 503). While shared entries are distrusted,
   * a stored response that has not expired is served STALE too: its validity is not known.
   */
  async #servedStale (
    store: GuardedStore,
    view: View,
    encoding: Encoding,
    error: unknown,
    lookupMs: number,
    context: Context
  ): Promise<Served> {
    const again = await store.lookup(view, view.keys[encoding])
    if (this.trust.readsBypassed || this.#ledger?.unsettled(view.dependsOn)) throw error
    if (again === undefined || again.state === 'miss') throw error
    if (again.state === 'hit' && !this.trust.sharedDistrusted) {
      return this.#served(context, view, again.response, 'HIT', lookupMs, again.tier)
    }
    const { response: stored, storedAt } = again
    const ageSeconds = storedAt === undefined || Number.isNaN(storedAt)
      ? undefined
      : Math.max(0, Math.floor((Date.now() - storedAt) / 1000))
    return { ...this.#served(context, view, stored, 'STALE', lookupMs), stale: { ageSeconds, error } }
  }

  #served (
    context: Context,
    view: View,
    response: CachedResponse,
    outcome: CacheOutcome,
    cacheMs: number,
    tier?: 'l1'
  ): Served {
    this.events.served(context, view, outcome, cacheMs)
    return { response, outcome, cacheMs, tier }
  }

  async #load (produce: Produce): Promise<CachedResponse> {
    const response = await produce()
    const { loadDelayMs } = this.faults
    if (loadDelayMs) await sleep(loadDelayMs())
    return response
  }

  /** Stores what a miss loaded, under the stamp it was loaded under: the fence (fill-policy.ts, fencedFill). */
  async #fill (
    context: Context,
    store: GuardedStore,
    view: View,
    stamp: string,
    representations: Representations
  ): Promise<FillResult> {
    const started = performance.now()
    const result = await fencedFill(store, view, stamp, representations, this.#stored, this.#options)
    this.events.emit('filled', context, view, result, performance.now() - started)
    return result
  }
}
