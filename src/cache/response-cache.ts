import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { Queryable } from '../db/queryable.ts'
import { errorBody, type HttpError } from '../errors.ts'
import type { CircuitBreaker } from './circuit-breaker.ts'
import { etagOf, JSON_CONTENT_TYPE, matchesIfNoneMatch } from './http.ts'
import { LocalGenerations } from './local-generations.ts'
import { SingleFlight } from './single-flight.ts'
import type { CachedResponse, CacheStore, Lookup } from './store.ts'
import { keyspace, type Keyspace, type View } from './views.ts'

/** What happened to a response, as `X-Cache` says it. */
export type CacheOutcome = 'HIT' | 'MISS' | 'BYPASS' | 'OFF'

export type CacheMode = 'off' | 'memory' | 'redis' | 'tiered'

export interface ResponseCacheOptions {
  mode: CacheMode
  /** No store: the cache is off and every read goes to PostgreSQL. */
  store: CacheStore | undefined
  /** Present when the store can fail (Redis): failures become BYPASS, and open it. */
  breaker?: CircuitBreaker
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
}

/** How often an instance waiting on another's lease looks for the entry it is filling. */
const LEASE_POLL_MS = 10

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
  readonly #breaker: CircuitBreaker | undefined
  readonly #options: ResponseCacheOptions
  readonly #flights = new SingleFlight<CachedResponse>()
  readonly #local = new LocalGenerations()
  /** Invalidations Redis has not received yet: replayed before the cache is used again. */
  readonly #owed = new Set<string>()
  /** The breaker's probe is replaying what was owed: Redis answers again. */
  #replaying = false
  readonly #observers: CacheObserver[] = []

  constructor (options: ResponseCacheOptions) {
    this.#options = options
    this.#store = options.store
    this.#breaker = options.breaker
    this.keys = keyspace(options.prefix)
  }

  observe (observer: CacheObserver): void {
    this.#observers.push(observer)
  }

  get mode (): CacheMode {
    return this.#options.mode
  }

  get breakerState (): 'closed' | 'open' | undefined {
    return this.#breaker?.state
  }

  /** The store, for the panel's metadata and flushes (never its values). */
  get store (): CacheStore | undefined {
    return this.#store
  }

  /** Whether writes should work out what to invalidate at all. */
  get invalidates (): boolean {
    return this.#store !== undefined && this.#options.invalidate
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
      const filledElsewhere = await this.#waitForLeaseHolder(store, view)
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
    // While the probe replays, Redis has just answered: a write then goes to it like any other,
    // so that a steady stream of writes cannot keep the replay from ever finishing.
    if (this.#breaker?.isOpen && !this.#replaying) {
      for (const generation of generations) this.#owed.add(generation)
      for (const observer of this.#observers) observer.invalidated?.(request, generations, 'owed', 0)
      return
    }
    try {
      await store.invalidate(generations)
      this.#breaker?.success()
      for (const observer of this.#observers) observer.invalidated?.(request, generations, 'done', performance.now() - started)
    } catch (error) {
      for (const observer of this.#observers) observer.invalidated?.(request, generations, 'owed', performance.now() - started)
      // The write has committed; what Redis did not get is owed, and the cache stays unused here
      // until it is paid (the breaker's probe replays it), so this instance never reads past it.
      for (const generation of generations) this.#owed.add(generation)
      this.#options.log.error({ err: error, generations: generations.length }, 'cache invalidation failed; it will be replayed when Redis answers')
      this.#breaker?.open(`invalidation failed: ${(error as Error).message}`)
    }
  }

  /** Tiered mode: the invalidation bus delivered another instance's invalidation (already applied to L1). */
  remoteInvalidated (generations: readonly string[], lagMs: number): void {
    for (const observer of this.#observers) observer.remoteInvalidated?.(generations, lagMs)
  }

  /**
   * Replays owed invalidations (the breaker's probe calls this once the store answers). A write
   * can still owe after it (its own invalidation failed meanwhile, or it landed just after the
   * replay), so the breaker must also ask `owesInvalidations` in the step that closes it.
   */
  async settleOwedInvalidations (): Promise<void> {
    if (this.#store === undefined || this.#owed.size === 0) return
    // Taken out before the replay, so that what a write adds meanwhile is not forgotten with it.
    const owed = [...this.#owed]
    this.#owed.clear()
    this.#replaying = true
    try {
      await this.#store.invalidate(owed)
    } catch (error) {
      for (const generation of owed) this.#owed.add(generation)
      throw error
    } finally {
      this.#replaying = false
    }
  }

  /** Whether Redis is missing an invalidation: the cache must not be read until it is replayed. */
  get owesInvalidations (): boolean {
    return this.#owed.size > 0
  }

  /** The lookup, or `undefined` when the store cannot be asked (BYPASS). */
  #lookup (store: CacheStore, view: View): Lookup | Promise<Lookup | undefined> | undefined {
    if (this.#breaker === undefined) return store.lookup(view.key, view.dependsOn) // memory: synchronous, cannot fail
    if (this.#breaker.isOpen) return undefined
    const breaker = this.#breaker
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
   * lease (the holder died, or its fill was refused because a write landed). Any Redis trouble
   * means loading now: the lease only ever saves work, it never fails a request.
   */
  async #waitForLeaseHolder (store: CacheStore, view: View): Promise<CachedResponse | undefined> {
    const leaseMs = this.#options.leaseMs
    if (leaseMs === undefined || store.lease === undefined) return undefined
    try {
      if (await store.lease(`${view.key}:lease`, leaseMs)) return undefined
      const deadline = performance.now() + leaseMs
      while (performance.now() < deadline) {
        await sleep(LEASE_POLL_MS)
        const { response } = await store.lookup(view.key, view.dependsOn)
        if (response) return response
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
      this.#breaker?.failure(error)
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
