import { LocalGenerations } from './local-generations.ts'
import type { CachedResponse, CacheStore, EntryLife, InspectableStore, Lookup, StoredEntry } from './store.ts'

interface MemoryEntry {
  response: CachedResponse
  stamp: string
  storedAt: number
  /** Refresh-ahead's point (Infinity: never), the end of the TTL, and the end of the grace after it. */
  refreshAt: number
  expiresAt: number
  keptUntil: number
  size: number
  /** The store's placement count when this entry was last put at the end of the recency order. */
  placed: number
}

/** Rough per-entry overhead beyond the body (key, object, map slot), for the byte bound. */
const ENTRY_OVERHEAD = 200

/**
 * Responses in this process: no I/O at all on a hit. A least-recently-used map bounded both in
 * entries and in bytes, with per-entry expiry.
 */
export class MemoryStore implements CacheStore, InspectableStore {
  readonly #entries = new Map<string, MemoryEntry>()
  readonly #generations: LocalGenerations
  readonly #maxBytes: number
  readonly #maxEntries: number
  #bytes = 0
  /** Entries put at the end of the recency order so far (filled, or moved there by a hit). */
  #placements = 0

  constructor (limits: { maxBytes: number, maxEntries: number }) {
    this.#maxBytes = limits.maxBytes
    this.#maxEntries = limits.maxEntries
    // As many counters as entries: a full store whose every entry depends on a generation written
    // recently keeps them all; past that, a dropped counter costs a spurious miss, never a stale hit.
    this.#generations = new LocalGenerations(limits.maxEntries)
  }

  /** How many generations this store keeps a counter for (bounded by maxEntries). */
  get generationCount (): number {
    return this.#generations.size
  }

  get size (): { entries: number, bytes: number } {
    return { entries: this.#entries.size, bytes: this.#bytes }
  }

  lookup (key: string, generations: readonly string[]): Lookup {
    const stamp = this.#generations.stamp(generations)
    const entry = this.#entries.get(key)
    if (entry === undefined) return { state: 'miss', stamp }
    const now = Date.now()
    if (entry.stamp !== stamp || entry.keptUntil <= now) {
      this.#delete(key, entry)
      return { state: 'miss', stamp }
    }
    const { response, storedAt, expiresAt, refreshAt } = entry
    if (expiresAt <= now) return { state: 'expired', response, stamp, storedAt, expiresAt }
    // Recency: Map iteration order is insertion order, so the first key is the least recently used.
    // An entry placed fewer than half the store's size of placements ago is still in the newer half
    // of that order, and would be evicted only after that many more: it is moved on a later hit,
    // which spares most hits of a busy entry a delete and an insert.
    if (this.#placements - entry.placed >= this.#entries.size >> 1) {
      this.#entries.delete(key)
      this.#entries.set(key, entry)
      entry.placed = ++this.#placements
    }
    return { state: 'hit', response, stamp, storedAt, expiresAt, refreshAt, refreshDue: refreshAt <= now }
  }

  fill (entries: readonly StoredEntry[], generations: readonly string[], stamp: string,
    life: EntryLife, fenced: boolean): boolean {
    const current = this.#generations.stamp(generations)
    // The fence (see ResponseCache): an entry carries the generations read before its load.
    // Unfenced, it would carry the ones current now, after a write may have landed.
    if (fenced && current !== stamp) return false
    const sizes = entries.map(({ key, response }) => response.body.length + key.length + ENTRY_OVERHEAD)
    if (sizes.reduce((sum, size) => sum + size, 0) > this.#maxBytes) return false
    const storedAt = Date.now()
    const times = {
      storedAt,
      refreshAt: life.refreshMs === undefined ? Infinity : storedAt + life.refreshMs,
      expiresAt: storedAt + life.ttlMs,
      keptUntil: storedAt + life.ttlMs + (life.graceMs ?? 0)
    }
    entries.forEach(({ key, response }, i) => {
      const previous = this.#entries.get(key)
      if (previous) this.#delete(key, previous)
      this.#entries.set(key, {
        response, stamp: fenced ? stamp : current, ...times, size: sizes[i]!, placed: ++this.#placements
      })
      this.#bytes += sizes[i]!
    })
    this.#evict()
    return true
  }

  invalidate (generations: readonly string[]): void {
    this.#generations.bump(generations)
  }

  async inspect (key: string): Promise<{ ttlMs: number, bytes: number } | undefined> {
    const entry = this.#entries.get(key)
    if (!entry || entry.expiresAt <= Date.now()) return undefined
    return { ttlMs: entry.expiresAt - Date.now(), bytes: entry.response.body.length }
  }

  /** A generation never bumped (or whose counter was dropped) has no value of its own: ''. */
  async generationValues (generations: readonly string[]): Promise<string[]> {
    const counters = this.#generations
    return generations.map((generation) => counters.has(generation) ? String(counters.value(generation)) : '')
  }

  async flush (pattern: string): Promise<number> {
    const matches = globToRegExp(pattern)
    let flushed = 0
    for (const [key, entry] of this.#entries) {
      if (!matches.test(key)) continue
      this.#delete(key, entry)
      flushed++
    }
    return flushed
  }

  /** Drops every entry at once. */
  clear (): void {
    this.#entries.clear()
    this.#bytes = 0
  }

  async close (): Promise<void> {
    this.clear()
  }

  #evict (): void {
    for (const [key, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes && this.#entries.size <= this.#maxEntries) return
      this.#delete(key, entry)
    }
  }

  #delete (key: string, entry: MemoryEntry): void {
    this.#entries.delete(key)
    this.#bytes -= entry.size
  }
}

/** Redis's glob for the patterns the keyspace uses: `*` matches anything, the rest literally. */
function globToRegExp (pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, '\\$&')).join('.*')}$`)
}
