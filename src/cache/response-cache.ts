import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { Queryable } from '../db/queryable.ts'
import { errorBody, type HttpError } from '../errors.ts'
import { etagOf, JSON_CONTENT_TYPE, matchesIfNoneMatch } from './http.ts'
import { LocalGenerations } from './local-generations.ts'
import type { OwedJournal } from './owed-journal.ts'
import { SingleFlight } from './single-flight.ts'
import type { ShardBreakers } from './shard-breakers.ts'
import { InvalidationError, type CachedResponse, type CacheStore, type Lookup } from './store.ts'
import { keyspace, leaseKey, type Keyspace, type View } from './views.ts'

/** What happened to a response, as `X-Cache` says it. */
export type CacheOutcome = 'HIT' | 'MISS' | 'BYPASS' | 'OFF'

export type CacheMode = 'off' | 'memory' | 'redis' | 'tiered'

export interface ResponseCacheOptions {
  mode: CacheMode
  /** No store: the cache is off and every read goes to PostgreSQL. */
  store: CacheStore | undefined
  /** Present when the store can fail (Redis): failures become BYPASS, and open the failing shard's breaker. */
  breakers?: ShardBreakers
  prefix: string
  ttlSeconds: number
  negativeTtlSeconds: number
  invalidate: boolean
  fence: boolean
  log: FastifyBaseLogger
  /** Test-only fault injection: milliseconds every load waits after reading (widens the race window). */
  loadDelayMs?: () => number
  /** CACHE_LEASE_MS: instances missing one key load it once; the others wait up to this long. */
  leaseMs?: number
  /** Where owed invalidations are written down so that they outlive this process (PostgreSQL). */
  journal?: OwedJournal
}

/**
 * Counters keying single-flight while the store cannot be asked: one per generation written
 * lately is plenty (a dropped one only stops a request joining a load it could have joined).
 */
const BYPASS_GENERATIONS = 10_000
/** How often an instance waiting on another's lease looks for the entry it is filling. */
const LEASE_POLL_MS = 10
/** How long after an invalidation is owed it is replayed, doubled after each replay that fails up to the max. */
const REPLAY_DELAY_MS = 500
const MAX_REPLAY_DELAY_MS = 5_000
/** How long closing may spend on a last replay of what is still owed. */
const FINAL_REPLAY_MS = 1_000

export type Loader = (db: Queryable) => Promise<unknown>

export type FillResult = 'stored' | 'refused' | 'failed'

/**
 * Watches what the cache does, for the panel and the metrics. Every method is optional and called
 * synchronously: keep them cheap, they run on the hot path.
 */
export interface CacheObserver {
  /** The outcome of a read, with the time the cache step took (lookup, and the fill on a miss). */
  served?: (request: FastifyRequest, view: View, outcome: CacheOutcome, cacheMs: number) => void
  filled?: (request: FastifyRequest, view: View, result: FillResult, ms: number) => void
  /** A miss that waited for another request's load instead of querying. */
  joinedFlight?: (request: FastifyRequest, view: View) => void
  invalidated?: (request: FastifyRequest | undefined, generations: readonly string[], result: 'done' | 'owed', ms: number) => void
  /** Tiered mode: another instance's invalidation reached this one, `lagMs` after it was published. */
  remoteInvalidated?: (generations: readonly string[], lagMs: number) => void
}

/**
 * Cache-aside for whole responses. A read looks its view up; a hit sends the stored bytes as
 * they are (no parse, no serialisation); a miss loads from PostgreSQL once per process however
 * many requests are waiting (single-flight), serialises with the route's response schema, and
 * stores those bytes. A 404 is stored too (for `negativeTtlSeconds`), so asking for ids that do
 * not exist cannot bypass the cache. Writes call `invalidate` after they commit.
 */
export class ResponseCache {
  readonly keys: Keyspace
  /** Test seam: runs after a miss has loaded and before it stores (to force the race). */
  beforeFill: ((view: View) => Promise<void>) | undefined

  readonly #store: CacheStore | undefined
  readonly #breakers: ShardBreakers | undefined
  readonly #options: ResponseCacheOptions
  readonly #flights = new SingleFlight<CachedResponse>()
  readonly #local = new LocalGenerations(BYPASS_GENERATIONS)
  /**
   * Generations Redis may not have the new value of: a write's invalidation failed, or was not
   * sent because its shard was down. A view depending on one is not read from the cache (BYPASS)
   * until it has been replayed; other views are unaffected.
   */
  readonly #owed = new Set<string>()
  /** Generations being replayed right now: still unsettled, but a write may invalidate them directly. */
  readonly #replaying = new Set<string>()
  /** Journal rows of owed generations, settled once a replay that began after them succeeds. */
  readonly #journalRows = new Map<string, number[]>()
  /** Journal writes under way, awaited on close (they need the pool that closes after the cache). */
  readonly #journalWork = new Set<Promise<void>>()
  #replayTimer: NodeJS.Timeout | undefined
  #replayRunning: Promise<void> | undefined
  #replayDelayMs = REPLAY_DELAY_MS
  #closed = false
  readonly #observers: CacheObserver[] = []

  constructor (options: ResponseCacheOptions) {
    this.#options = options
    this.#store = options.store
    this.#breakers = options.breakers
    this.keys = keyspace(options.prefix)
  }

  observe (observer: CacheObserver): void {
    this.#observers.push(observer)
  }

  get mode (): CacheMode {
    return this.#options.mode
  }

  /** 'open' while any shard's breaker is open or any invalidation is owed: part of the cache is bypassed. */
  get breakerState (): 'closed' | 'open' | undefined {
    if (this.#breakers === undefined) return undefined
    return this.#breakers.open.length > 0 || this.#unsettledCount > 0 ? 'open' : 'closed'
  }

  /**
   * Takes over what stopped instances still owed: the journal's rows are owed here (their views are
   * BYPASS) and replayed now. Call it once, at start.
   */
  async restoreOwed (): Promise<void> {
    const rows = await this.#options.journal?.load() ?? []
    if (rows.length === 0) return
    for (const { id, generation } of rows) {
      this.#owed.add(generation)
      this.#addJournalRow(generation, id)
    }
    this.#options.log.warn({ generations: this.#owed.size }, 'replaying cache invalidations owed by a stopped instance')
    this.replayOwedInvalidations()
  }

  /**
   * Stops replaying (the app is closing), after one last try, bounded in time, on every shard
   * whether its breaker is open or not. What is still owed then stays in the journal for the next
   * instance to start; without a journal, it is lost, and said so.
   */
  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#replayTimer)
    const deadline = sleep(FINAL_REPLAY_MS, undefined, { ref: false })
    await Promise.race([(async () => {
      await this.#replayRunning
      await this.#replay(true)
    })(), deadline])
    await Promise.race([Promise.all(this.#journalWork), deadline])
    const owed = this.#unsettledCount
    if (owed === 0) return
    if (this.#options.journal) {
      this.#options.log.warn({ generations: owed },
        'cache invalidations still owed at shutdown: journaled in PostgreSQL, replayed by the next instance to start')
    } else {
      this.#options.log.error({ generations: owed },
        'cache invalidations still owed at shutdown are lost: their views may be served stale until their TTL')
    }
  }

  /** The store, for the panel's metadata and flushes (never its values). */
  get store (): CacheStore | undefined {
    return this.#store
  }

  async serve (request: FastifyRequest, reply: FastifyReply, view: View, load: Loader): Promise<FastifyReply> {
    const store = this.#store
    if (store === undefined) return this.#send(request, reply, view, await this.#produce(request, reply, load), 'OFF')

    const started = performance.now()
    const pending = this.#lookup(store, view)
    // A memory lookup is synchronous: no promise, no extra turn of the event loop on a hit.
    const lookup = pending instanceof Promise ? await pending : pending
    const lookupMs = performance.now() - started
    if (lookup?.response) return this.#send(request, reply, view, lookup.response, 'HIT', lookupMs, lookup.tier)

    if (lookup === undefined) {
      // The store cannot be asked: serve from PostgreSQL, still one load per key at a time. The
      // local generations keep a request made after a local write out of an older load.
      const bypassKey = `${view.key}|local:${this.#local.stamp(view.dependsOn)}`
      const { value, shared } = await this.#flights.run(bypassKey, () => this.#produce(request, reply, load))
      if (shared) this.#notifyJoined(request, view)
      return this.#send(request, reply, view, value, 'BYPASS', lookupMs)
    }

    // Requests that observed the same generations share one load; a request that observed newer
    // ones (it came after a write) starts its own.
    const { value, shared } = await this.#flights.run(`${view.key}|${lookup.stamp}`, async () => {
      const filledElsewhere = await this.#waitForLeaseHolder(store, view, lookup.sharedStamp ?? lookup.stamp)
      if (filledElsewhere) return filledElsewhere
      const response = await this.#produce(request, reply, load)
      await this.beforeFill?.(view)
      await this.#fill(request, store, view, lookup.stamp, response)
      return response
    })
    if (shared) this.#notifyJoined(request, view)
    return this.#send(request, reply, view, value, 'MISS', lookupMs)
  }

  /**
   * Makes every response depending on `generations` invalid, on every instance. Call it after
   * the write has committed and before answering, so that a client that saw the write's answer
   * can never read the old state back (read-your-writes).
   */
  async invalidate (generations: readonly string[], request?: FastifyRequest): Promise<void> {
    const store = this.#store
    if (store === undefined || !this.#options.invalidate || generations.length === 0) return
    this.#local.bump(generations)
    const started = performance.now()
    // A shard known to be down is not asked: what it serves is owed at once.
    const shards = [...this.#breakers?.byShard(generations) ?? []]
    const down = shards.filter(([breaker]) => breaker.isOpen).flatMap(([, group]) => group)
    const sent = down.length === 0 ? generations : shards.filter(([breaker]) => !breaker.isOpen).flatMap(([, group]) => group)
    if (down.length > 0) this.#owe(down)
    try {
      if (sent.length > 0) await store.invalidate(sent)
      for (const [breaker] of shards) if (!breaker.isOpen) breaker.success()
      const result = down.length > 0 ? 'owed' : 'done'
      for (const observer of this.#observers) observer.invalidated?.(request, generations, result, performance.now() - started)
    } catch (error) {
      for (const observer of this.#observers) observer.invalidated?.(request, generations, 'owed', performance.now() - started)
      // The write has committed; what Redis may not have is owed, and the views depending on it
      // are not read from the cache until it has been replayed. All of it, not only what failed:
      // in tiered mode the other instances hear of an invalidation only once it all went through.
      this.#owe(sent)
      this.#options.log.error({ err: error, generations: sent.length }, 'cache invalidation failed; it will be replayed when Redis answers')
      this.#openShardsOf(error instanceof InvalidationError ? error.generations : sent, `invalidation failed: ${(error as Error).message}`)
    }
  }

  /** Tiered mode: the invalidation bus delivered another instance's invalidation (already applied to L1). */
  remoteInvalidated (generations: readonly string[], lagMs: number): void {
    for (const observer of this.#observers) observer.remoteInvalidated?.(generations, lagMs)
  }

  /**
   * Replays owed invalidations now, where their shard answers (a breaker calls this as it closes).
   * Runs after every owe as well, backing off while replays fail.
   */
  replayOwedInvalidations (): void {
    clearTimeout(this.#replayTimer)
    this.#replayTimer = undefined
    this.#replay()
  }

  get #unsettledCount (): number {
    return this.#owed.size + this.#replaying.size
  }

  /** Whether a view depends on a generation Redis may not have the new value of. */
  #unsettled (generations: readonly string[]): boolean {
    return generations.some((generation) => this.#owed.has(generation) || this.#replaying.has(generation))
  }

  #owe (generations: readonly string[]): void {
    for (const generation of generations) this.#owed.add(generation)
    this.#record(generations)
    this.#scheduleReplay()
  }

  /** Writes owed generations to the journal; a row whose replay already succeeded is settled at once. */
  #record (generations: readonly string[]): void {
    const journal = this.#options.journal
    if (journal === undefined) return
    const work = journal.record(generations).then(async (rows) => {
      const paid: number[] = []
      for (const { id, generation } of rows) {
        if (this.#owed.has(generation) || this.#replaying.has(generation)) this.#addJournalRow(generation, id)
        else paid.push(id)
      }
      await journal.settle(paid)
    }).catch((error: unknown) => {
      this.#options.log.warn({ err: error, generations: generations.length },
        'could not journal owed cache invalidations')
    })
    this.#trackJournalWork(work)
  }

  /** Deletes the journal rows of generations just replayed, unless a write owed them again meanwhile. */
  #settle (generations: readonly string[]): void {
    const journal = this.#options.journal
    if (journal === undefined) return
    const ids: number[] = []
    for (const generation of generations) {
      if (this.#owed.has(generation)) continue
      ids.push(...this.#journalRows.get(generation) ?? [])
      this.#journalRows.delete(generation)
    }
    if (ids.length === 0) return
    this.#trackJournalWork(journal.settle(ids).catch((error: unknown) => {
      this.#options.log.warn({ err: error, rows: ids.length },
        'could not settle replayed cache invalidations in the journal')
    }))
  }

  #addJournalRow (generation: string, id: number): void {
    const ids = this.#journalRows.get(generation)
    if (ids) ids.push(id)
    else this.#journalRows.set(generation, [id])
  }

  #trackJournalWork (work: Promise<void>): void {
    this.#journalWork.add(work)
    work.finally(() => this.#journalWork.delete(work))
  }

  #openShardsOf (generations: readonly string[], reason: string): void {
    for (const breaker of this.#breakers?.byShard(generations).keys() ?? []) breaker.open(reason)
  }

  #scheduleReplay (): void {
    if (this.#replayTimer !== undefined || this.#replayRunning !== undefined || this.#closed) return
    this.#replayTimer = setTimeout(() => {
      this.#replayTimer = undefined
      this.#replay()
    }, this.#replayDelayMs)
    this.#replayTimer.unref()
  }

  /**
   * One replay per shard that answers, all at once. Each shard's owed generations are taken out
   * before they are sent (a write landing meanwhile owes them again rather than being forgotten
   * with them) and stay unsettled until Redis has acknowledged them; what fails is owed again.
   * The last replay, on close (`final`), tries every shard and leaves the breakers alone.
   */
  #replay (final = false): Promise<void> {
    const store = this.#store
    const breakers = this.#breakers
    if (store === undefined || breakers === undefined || this.#owed.size === 0 || this.#replayRunning) {
      return Promise.resolve()
    }
    const answering = [...breakers.byShard(this.#owed)].filter(([breaker]) => final || !breaker.isOpen)
    let failed = false
    const running = Promise.all(answering.map(async ([breaker, generations]) => {
      for (const generation of generations) {
        this.#owed.delete(generation)
        this.#replaying.add(generation)
      }
      try {
        await store.invalidate(generations)
        if (!final) breaker.success()
        for (const generation of generations) this.#replaying.delete(generation)
        this.#settle(generations)
      } catch (error) {
        failed = true
        for (const generation of generations) {
          this.#replaying.delete(generation)
          this.#owed.add(generation)
        }
        if (!final) breaker.open(`replaying owed invalidations failed: ${(error as Error).message}`)
      }
    })).then(() => {
      this.#replayRunning = undefined
      this.#replayDelayMs = failed ? Math.min(this.#replayDelayMs * 2, MAX_REPLAY_DELAY_MS) : REPLAY_DELAY_MS
      if (this.#owed.size > 0) this.#scheduleReplay()
    })
    this.#replayRunning = running
    return running
  }

  /** The lookup, or `undefined` when the store cannot be asked (BYPASS). */
  #lookup (store: CacheStore, view: View): Lookup | Promise<Lookup | undefined> | undefined {
    if (this.#breakers === undefined) return store.lookup(view.key, view.dependsOn) // memory: synchronous, cannot fail
    if (this.#unsettledCount > 0 && this.#unsettled(view.dependsOn)) return undefined
    const breaker = this.#breakers.for(view.key)
    if (breaker.isOpen) return undefined
    const pending = store.lookup(view.key, view.dependsOn)
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

  /**
   * Cross-instance single-flight (opt-in): the first instance to miss a key takes a short Redis
   * lease and loads; the others poll for its fill, and load themselves if none lands within the
   * lease (the holder died). A lease is for one view under one stamp: a reader that saw a write's
   * new generations takes a lease of its own, and a waiter that sees them stops waiting (the
   * holder's fill will be refused) and loads. Any Redis trouble means loading now: the lease only
   * ever saves work, it never fails a request.
   */
  async #waitForLeaseHolder (store: CacheStore, view: View, stamp: string): Promise<CachedResponse | undefined> {
    const leaseMs = this.#options.leaseMs
    if (leaseMs === undefined || store.lease === undefined) return undefined
    try {
      if (await store.lease(leaseKey(view), stamp, leaseMs)) return undefined
      const deadline = performance.now() + leaseMs
      while (performance.now() < deadline) {
        await sleep(LEASE_POLL_MS)
        const lookup = await store.lookup(view.key, view.dependsOn)
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
  async #fill (request: FastifyRequest, store: CacheStore, view: View, stamp: string, response: CachedResponse): Promise<void> {
    const ttlSeconds = response.status === 404 ? this.#options.negativeTtlSeconds : this.#options.ttlSeconds
    // Up to 10% earlier, never later: entries filled together do not all expire together.
    const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000 * (1 - Math.random() * 0.1)))
    const started = performance.now()
    let result: FillResult
    try {
      result = await store.fill(view.key, view.dependsOn, stamp, response, ttlMs, this.#options.fence) ? 'stored' : 'refused'
    } catch (error) {
      this.#breakers?.for(view.key).failure(error)
      result = 'failed'
    }
    for (const observer of this.#observers) observer.filled?.(request, view, result, performance.now() - started)
  }

  #notifyJoined (request: FastifyRequest, view: View): void {
    for (const observer of this.#observers) observer.joinedFlight?.(request, view)
  }

  /** Loads, and serialises with the route's own response schema: these bytes are what is cached. */
  async #produce (request: FastifyRequest, reply: FastifyReply, load: Loader): Promise<CachedResponse> {
    let status = 200
    let payload: unknown
    try {
      payload = await load(request.db)
      if (this.#options.loadDelayMs) await sleep(this.#options.loadDelayMs())
    } catch (error) {
      const { statusCode, message, code } = error as HttpError
      if (statusCode !== 404) throw error
      status = 404
      payload = errorBody(404, message, code)
    }
    // Fastify's serializers for JSON schemas produce strings.
    const body = Buffer.from(reply.code(status).serialize(payload) as string)
    return { status, etag: etagOf(body), body }
  }

  #send (request: FastifyRequest, reply: FastifyReply, view: View, response: CachedResponse, outcome: CacheOutcome, cacheMs?: number, tier?: 'l1'): FastifyReply {
    for (const observer of this.#observers) observer.served?.(request, view, outcome, cacheMs ?? 0)
    reply.header('x-cache', outcome).header('etag', response.etag)
    if (cacheMs !== undefined) reply.header('server-timing', `cache;${tier === undefined ? '' : `desc=${tier};`}dur=${cacheMs.toFixed(2)}`)
    if (matchesIfNoneMatch(request.headers['if-none-match'], response.etag)) return reply.code(304).send()
    return reply.code(response.status).header('content-type', JSON_CONTENT_TYPE).send(response.body)
  }
}
