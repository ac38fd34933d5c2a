import type { Encoding } from '../encodings.ts'

/**
 * A response as the cache keeps it, in one content coding: the exact bytes the route's serializer
 * produced (`identity`), or those bytes compressed once, when the response was produced.
 */
export interface CachedResponse {
  status: number
  encoding: Encoding
  /** Strong ETag of `body`, computed once when the response was produced: each coding has its own. */
  etag: string
  body: Buffer
}

/** One key of a fill: every representation of a response is stored under a key of its own. */
export interface StoredEntry {
  key: string
  response: CachedResponse
}

/** How long a fill's entries live, and what happens towards and past their end. */
export interface EntryLife {
  /** Served as a hit this long. */
  ttlMs: number
  /** From this many ms after the fill, a hit on the entry is `refreshDue` (refresh-ahead). Unset: never. */
  refreshMs?: number
  /** Kept this much longer than `ttlMs`, as an Expired lookup (CACHE_GRACE). */
  graceMs?: number
}

/** What a lookup found: a valid response, one in its grace, or nothing; with the generations' values. */
export type Lookup = Hit | Expired | Miss

interface Stamped {
  /**
   * The current values of the view's generations, read in the same step as the entry. A fill
   * passes it back: it is what the response about to be loaded will be valid for.
   */
  stamp: string
  /**
   * The part of `stamp` every instance sees alike (Redis's generations), where the store adds a
   * part of its own (the tiered store's L1 generations): what a lease is taken under.
   */
  sharedStamp?: string
  /** When the stored response was filled, ms since the epoch, where the store records it. */
  storedAt?: number
  /** When the stored response expires (ms since the epoch), where the store records it. */
  expiresAt?: number
}

/** A stored response that is still valid. */
export interface Hit extends Stamped {
  state: 'hit'
  response: CachedResponse
  /** Past its entry's refresh point (`refreshAt`): worth loading again before it expires. */
  refreshDue?: boolean
  /** When the stored response is due for a refresh (ms since the epoch), where it has a refresh point. */
  refreshAt?: number
  /** Set when the response came from the tiered store's in-process L1 (no I/O). */
  tier?: 'l1'
}

/**
 * A stored response every generation of which is still current but whose TTL has run out, in its
 * grace (EntryLife.graceMs): for when a load fails, never in place of one.
 */
export interface Expired extends Stamped {
  state: 'expired'
  response: CachedResponse
}

/** Nothing valid is stored. */
export interface Miss extends Stamped {
  state: 'miss'
}

/**
 * Where responses and generations live: in this process (`memory`), in Redis (`redis`), or in
 * both (`tiered`: an in-process copy in front of Redis).
 * Methods of the Redis store may reject (Redis down, slow); the cache turns that into BYPASS.
 */
export interface CacheStore {
  lookup: (key: string, generations: readonly string[]) => Lookup | Promise<Lookup>
  /**
   * Stores every entry (a response's representations), all or none, valid while the generations
   * keep the values in `stamp`. With `fenced`, refuses (returns false) when any of them changed
   * since `stamp` was read: the fence, explained at ResponseCache.#fill.
   */
  fill: (entries: readonly StoredEntry[], generations: readonly string[], stamp: string,
    life: EntryLife, fenced: boolean) => boolean | Promise<boolean>
  /**
   * Gives each generation a new value, so every response stored under the old one is dead.
   * A shared store rejects with an InvalidationError naming the generations it could not change.
   * With `changeId` (a database change every instance hears of), a shared store changes each
   * generation once per change, however many instances ask, and tells no other instance.
   */
  invalidate: (generations: readonly string[], changeId?: string) => void | Promise<void>
  /**
   * Shared stores only: takes the lease `key` for the generations in `stamp`, for `ms`, if nobody
   * holds it (one instance loads, the others wait for its fill). True when this caller got it.
   */
  lease?: (key: string, stamp: string, ms: number) => Promise<boolean>

  close: () => Promise<void>
}

/** What the cache panel reads and does, off the request path: metadata only, never a stored response's bytes. */
export interface InspectableStore {
  /** A key's remaining life and size, or `undefined` when nothing is stored under it. */
  inspect: (key: string) => Promise<{ ttlMs: number, bytes: number } | undefined>
  /** Current values of generations ('' when a generation does not exist yet). */
  generationValues: (generations: readonly string[]) => Promise<string[]>
  /** Deletes every entry whose key matches `pattern` (a Redis glob: `*` is the only wildcard used). */
  flush: (pattern: string) => Promise<number>
}

/** A store the app runs on: the request path's, and the panel's. */
export type AppStore = CacheStore & InspectableStore

/** Some generations did not get their new value (their Redis node failed or was too slow). */
export class InvalidationError extends Error {
  readonly generations: readonly string[]

  constructor (generations: readonly string[], cause: unknown) {
    super(
      `invalidation of ${generations.length} generation(s) failed: ${(cause as Error).message ?? String(cause)}`,
      { cause }
    )
    this.generations = generations
  }
}
