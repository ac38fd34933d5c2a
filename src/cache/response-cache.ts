import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheMode } from '../config.ts'
import type { FillResult, GuardedStore } from './guarded-store.ts'
import { ENCODINGS, encodedKey, type Encoding } from './encodings.ts'
import type { OwedLedger } from './owed-ledger.ts'
import { FreshFlight, SingleFlight } from './single-flight.ts'
import { representationsOf, type Representations } from './representations.ts'
import type { CachedResponse, CacheStore, EntryLife, Lookup } from './store.ts'
import { LEASE_POLL_MS, REFRESH_AHEAD_SHARE, TTL_JITTER } from './tuning.ts'
import { keyspace, leaseKey, type Keyspace, type View } from './views.ts'

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

/** What a miss's load makes: every representation when it was stored, only `identity` when another instance's was. */
type Loaded = Partial<Record<Encoding, CachedResponse>> & { identity: CachedResponse }

/**
 * Watches what the cache does, for the panel and the metrics, with the context of the read or
 * write (the HTTP request). Every method is optional and called synchronously: keep them cheap,
 * they run on the hot path.
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

export interface ResponseCacheOptions {
  mode: CacheMode
  /** No store: the cache is off and every read goes to PostgreSQL. */
  store: GuardedStore | undefined
  /** Present when the store can fail (Redis): what it may have missed, replayed until it has it. */
  ledger?: OwedLedger
  prefix: string
  ttlSeconds: number
  negativeTtlSeconds: number
  invalidate: boolean
  fence: boolean
  /**
   * Keep (and send) the compressed representations, made once per fill. `false`: identity only,
   * looked up and stored whatever the request accepts; whoever sends it compresses it.
   */
  precompress: boolean
  /** Test-only fault injection: milliseconds every load waits after reading (widens the race window). */
  loadDelayMs?: () => number
  /** CACHE_LEASE_MS: instances missing one key load it once; the others wait up to this long. */
  leaseMs?: number
  /** CACHE_GRACE: seconds an entry is kept past its TTL, served only when its load fails. */
  graceSeconds?: number
  /** CACHE_REFRESH_AHEAD: a hit near its entry's expiry loads it again in the background. */
  refreshAhead?: boolean
}

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
  readonly keys: Keyspace
  /** Test seam: runs after a miss has loaded and before it stores (to force the race). */
  beforeFill: ((view: View) => Promise<void>) | undefined

  readonly #store: GuardedStore | undefined
  readonly #ledger: OwedLedger | undefined
  readonly #options: ResponseCacheOptions
  readonly #flights = new SingleFlight<Loaded>()
  readonly #bypassFlights = new FreshFlight<CachedResponse>()
  readonly #refreshes = new SingleFlight<void>()
  readonly #observers: Array<CacheObserver<Context>> = []
  /** The codings a fill stores: all of them, or identity alone without `precompress`. */
  readonly #stored: readonly Encoding[]
  /** Every read is BYPASS while set: nothing is known yet of what the database changed. */
  #readsBypassed = false
  /**
   * Set while this instance cannot hear the others (distrustShared): reads go to PostgreSQL, and
   * what is stored is served only when PostgreSQL does not answer.
   */
  #sharedDistrusted = false
  /** Tells the other instances what this one owes (owed-announcement.ts), where they can be told. */
  #announceOwed: ((generations: readonly string[]) => Promise<void>) | undefined

  constructor (options: ResponseCacheOptions) {
    this.#options = options
    this.#stored = options.precompress ? ENCODINGS : ['identity']
    this.#store = options.store
    this.#ledger = options.ledger
    this.keys = keyspace(options.prefix)
  }

  observe (observer: CacheObserver<Context>): void {
    this.#observers.push(observer)
  }

  get mode (): CacheMode {
    return this.#options.mode
  }

  /** The store, for the panel's metadata and flushes (never its values). */
  get store (): CacheStore | undefined {
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
    const key = encodedKey(view.key, encoding)
    const pending = this.#readsBypassed || this.#sharedDistrusted || this.#ledger?.unsettled(view.dependsOn)
      ? undefined
      : store.lookup(view, key)
    if (!(pending instanceof Promise)) {
      if (pending?.response) return this.#hit(store, view, pending, performance.now() - started, produce, context)
      return this.#miss(store, view, encoding, pending, performance.now() - started, produce, context)
    }
    return pending.then((lookup) => {
      const lookupMs = performance.now() - started
      if (lookup?.response) return this.#hit(store, view, lookup, lookupMs, produce, context)
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
    for (const observer of this.#observers) {
      observer.invalidated?.(context, generations, result, performance.now() - started)
    }
  }

  /**
   * Reads are BYPASS from `bypassReads(true)` until `bypassReads(false)`: the database-change
   * listener holds them so until it hears the database, at boot.
   */
  bypassReads (bypassed: boolean): void {
    this.#readsBypassed = bypassed
  }

  /**
   * While set, this instance does not trust shared entries: it cannot hear what the other instances
   * owe (its database-change connection is lost). Reads load from PostgreSQL (BYPASS); one whose
   * load fails is served what is stored, as STALE, since a write needs the PostgreSQL it cannot reach.
   */
  distrustShared (distrusted: boolean): void {
    this.#sharedDistrusted = distrusted
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

  /** Gives every view a new epoch: every response stored so far is unreachable, on this instance. */
  changeEpoch (epoch: string, reason: EpochReason): void {
    if (this.keys.epoch === epoch) return
    this.keys.epoch = epoch
    for (const observer of this.#observers) observer.epochChanged?.(epoch, reason)
  }

  /** A database change was applied (by `invalidate` or `changeEpoch`): for the observers. */
  databaseChanged (change: AppliedDatabaseChange): void {
    for (const observer of this.#observers) observer.databaseChanged?.(change)
  }

  /** Tiered mode: the invalidation bus delivered another instance's invalidation (already applied to L1). */
  remoteInvalidated (generations: readonly string[], lagMs: number): void {
    for (const observer of this.#observers) observer.remoteInvalidated?.(generations, lagMs)
  }

  async #readUncached (view: View, encoding: Encoding, produce: Produce, context: Context): Promise<Served> {
    const response = await this.#encoded(await this.#load(produce), encoding)
    for (const observer of this.#observers) observer.served?.(context, view, 'OFF', 0)
    return { response, outcome: 'OFF' }
  }

  /** Nothing is stored: only the representation this request is sent is made. */
  async #encoded (identity: CachedResponse, encoding: Encoding): Promise<CachedResponse> {
    return encoding === 'identity' ? identity : (await representationsOf(identity, [encoding]))[encoding]
  }

  #hit (store: GuardedStore, view: View, lookup: Lookup, lookupMs: number, produce: Produce, context: Context): Served {
    if (lookup.refreshDue && this.#options.refreshAhead) this.#refreshAhead(store, view, lookup, produce, context)
    return this.#served(context, view, lookup.response!, 'HIT', lookupMs, lookup.tier)
  }

  /**
   * Refresh-ahead: a hit past its entry's refresh point is served as it is, and the view is loaded
   * again in the background (once at a time per view in this process; with CACHE_LEASE_MS, by one
   * instance), so the TTL of a key read all the time never runs out under its readers. The fill is
   * fenced under the hit's stamp like any other: a write meanwhile refuses it. A failed refresh
   * changes nothing: the entry serves until it expires, and its next hit tries again.
   */
  #refreshAhead (store: GuardedStore, view: View, lookup: Lookup, produce: Produce, context: Context): void {
    this.#refreshes.run(view.key, async () => {
      const leaseMs = this.#options.leaseMs
      const stamp = lookup.sharedStamp ?? lookup.stamp
      const leased = leaseMs === undefined ? undefined : store.lease(leaseKey(view), stamp, leaseMs)
      if (leased !== undefined && !await leased) return
      const representations = await representationsOf(await this.#load(produce), this.#stored)
      const result = await this.#fill(context, store, view, lookup.stamp, representations)
      for (const observer of this.#observers) observer.refreshed?.(view, result)
    }).catch(() => {
      for (const observer of this.#observers) observer.refreshed?.(view, 'failed')
    })
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
        if (!this.#sharedDistrusted) throw error
        return this.#servedStale(store, view, encoding, error, lookupMs, context)
      }
      const { value, shared } = bypassed
      if (shared) this.#notifyJoined(context, view)
      return this.#served(context, view, await this.#encoded(value, encoding), 'BYPASS', lookupMs)
    }
    // Reads that observed the same generations share one load; a read that observed newer ones
    // (it came after a write) starts its own.
    const flight = this.#flights.run(`${view.key}|${lookup.stamp}`, async () => {
      const filledElsewhere = await this.#waitForLeaseHolder(store, view, lookup.sharedStamp ?? lookup.stamp)
      if (filledElsewhere) return { identity: filledElsewhere }
      const representations = await representationsOf(await this.#load(produce), this.#stored)
      await this.beforeFill?.(view)
      await this.#fill(context, store, view, lookup.stamp, representations)
      return representations
    })
    let loaded: Awaited<typeof flight>
    try {
      loaded = await flight
    } catch (error) {
      if (lookup.expired === undefined) throw error
      return this.#servedStale(store, view, encoding, error, lookupMs, context)
    }
    const { value, shared } = loaded
    if (shared) this.#notifyJoined(context, view)
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
    const again = await store.lookup(view, encodedKey(view.key, encoding))
    if (this.#readsBypassed || this.#ledger?.unsettled(view.dependsOn)) throw error
    if (again?.response && !this.#sharedDistrusted) {
      return this.#served(context, view, again.response, 'HIT', lookupMs, again.tier)
    }
    const stored = again?.response ?? again?.expired
    if (stored === undefined) throw error
    const { storedAt } = again!
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
    for (const observer of this.#observers) observer.served?.(context, view, outcome, cacheMs)
    return { response, outcome, cacheMs, tier }
  }

  async #load (produce: Produce): Promise<CachedResponse> {
    const response = await produce()
    if (this.#options.loadDelayMs) await sleep(this.#options.loadDelayMs())
    return response
  }

  /**
   * Cross-instance single-flight (opt-in): the first instance to miss a key takes a short Redis
   * lease and loads; the others poll for its fill, and load themselves if none lands within the
   * lease (the holder died). A lease is for one view under one stamp: a reader that saw a write's
   * new generations takes a lease of its own, and a waiter that sees them stops waiting (the
   * holder's fill will be refused) and loads. Any Redis trouble means loading now: the lease only
   * ever saves work, it never fails a request.
   */
  async #waitForLeaseHolder (store: GuardedStore, view: View, stamp: string): Promise<CachedResponse | undefined> {
    const leaseMs = this.#options.leaseMs
    if (leaseMs === undefined) return undefined
    try {
      const leased = store.lease(leaseKey(view), stamp, leaseMs)
      if (leased === undefined || await leased) return undefined
      const deadline = performance.now() + leaseMs
      while (performance.now() < deadline) {
        await sleep(LEASE_POLL_MS)
        // Straight to the store: the wait is an optimisation, so its failures end it (below) and
        // are not the breaker's business.
        const lookup = await store.store.lookup(view.key, view.dependsOn)
        if (lookup.response) return lookup.response
        if ((lookup.sharedStamp ?? lookup.stamp) !== stamp) break
      }
    } catch {}
    return undefined
  }

  /**
   * THE FENCE. A miss reads the generations (stamp) before loading, and stores its response only
   * if they are still the same, atomically (a Lua script in Redis; one synchronous step in
   * memory). Without it, this interleaving serves stale data until the TTL:
   *   miss loads the old row → a write commits and bumps the generations → the miss stores
   *   the old row as valid for the new generations.
   * With it, the late store is refused (or lands stamped with generations that are already
   * dead), because the response says which generations it was loaded under.
   */
  async #fill (
    context: Context,
    store: GuardedStore,
    view: View,
    stamp: string,
    representations: Representations
  ): Promise<FillResult> {
    const entries = this.#stored.map((encoding) => ({
      key: encodedKey(view.key, encoding),
      response: representations[encoding]
    }))
    const started = performance.now()
    const result = await store.fill(view, stamp, entries, this.#lifeOf(representations.identity), this.#options.fence)
    for (const observer of this.#observers) observer.filled?.(context, view, result, performance.now() - started)
    return result
  }

  /**
   * The TTL, jittered; refresh-ahead's point, the last REFRESH_AHEAD_SHARE of it; and the grace.
   * A 404 gets the negative TTL and no grace: what does not exist is not worth serving stale.
   */
  #lifeOf (response: CachedResponse): EntryLife {
    const notFound = response.status === 404
    const ttlSeconds = notFound ? this.#options.negativeTtlSeconds : this.#options.ttlSeconds
    const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000 * (1 - Math.random() * TTL_JITTER)))
    const life: EntryLife = { ttlMs }
    if (this.#options.refreshAhead) life.refreshMs = Math.round(ttlMs * (1 - REFRESH_AHEAD_SHARE))
    if (!notFound && this.#options.graceSeconds) life.graceMs = this.#options.graceSeconds * 1000
    return life
  }

  #notifyJoined (context: Context, view: View): void {
    for (const observer of this.#observers) observer.joinedFlight?.(context, view)
  }
}
