import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AppliedDatabaseChange, CacheObserver, EpochReason } from '../cache/index.ts'

export type CacheOperation =
  | { op: 'lookup', key: string, result: string, ms: number }
  | { op: 'fill', key: string, result: string, ms: number }
  | { op: 'wait', key: string }
  | { op: 'invalidate', generations: number, result: string, ms: number }

export interface RecordedRequest {
  id: string
  at: string
  method: string
  url: string
  route: string
  status: number
  cache: string | null
  operations: CacheOperation[]
  db: { queries: number, ms: number }
  totalMs: number
}

/** A write made outside the API, as this instance heard and applied it. */
export interface RecordedDatabaseChange extends AppliedDatabaseChange {
  at: string
}

/** The views' epoch now (Keyspace.epoch), why it was taken, and when. */
export interface RecordedEpoch {
  value: string
  reason: EpochReason
  at: string
}

export interface RouteTally {
  route: string
  HIT: number
  MISS: number
  BYPASS: number
  STALE: number
  OFF: number
  hitRatio: number
}

/**
 * What the cache panel shows: the last `capacity` requests with their cache story, a tally per
 * route, and the generations writes touched lately. It records keys and metadata, never a body.
 */
export class RequestRecorder {
  readonly #capacity: number
  readonly #requests: RecordedRequest[] = []
  readonly #operations = new WeakMap<FastifyRequest, CacheOperation[]>()
  readonly #tallies = new Map<string, RouteTally>()
  readonly #touchedGenerations = new Set<string>()
  readonly #databaseChanges: RecordedDatabaseChange[] = []
  #epoch: RecordedEpoch | undefined

  constructor (capacity = 100) {
    this.#capacity = capacity
  }

  /** The cache observer that feeds the per-request stories. */
  readonly observer: CacheObserver<FastifyRequest> = {
    served: (request, view, outcome, cacheMs) => {
      // Reported when the response is sent, after a miss's fill: the lookup came first.
      this.#push(request, { op: 'lookup', key: view.key, result: outcome, ms: round(cacheMs) }, true)
      const tally = this.#tallies.get(view.route) ??
        { route: view.route, HIT: 0, MISS: 0, BYPASS: 0, STALE: 0, OFF: 0, hitRatio: 0 }
      tally[outcome]++
      const reads = tally.HIT + tally.MISS + tally.BYPASS + tally.STALE + tally.OFF
      tally.hitRatio = reads > 0 ? tally.HIT / reads : 0
      this.#tallies.set(view.route, tally)
    },
    filled: (request, view, result, ms) => this.#push(request, { op: 'fill', key: view.key, result, ms: round(ms) }),
    joinedFlight: (request, view) => this.#push(request, { op: 'wait', key: view.key }),
    invalidated: (request, generations, result, ms) => {
      for (const generation of generations) {
        // Most recent last, bounded: re-adding moves a generation to the end.
        this.#touchedGenerations.delete(generation)
        this.#touchedGenerations.add(generation)
      }
      while (this.#touchedGenerations.size > 20) {
        this.#touchedGenerations.delete(this.#touchedGenerations.values().next().value!)
      }
      if (request) this.#push(request, { op: 'invalidate', generations: generations.length, result, ms: round(ms) })
    },
    databaseChanged: (change) => {
      this.#databaseChanges.push({ at: new Date().toISOString(), ...change, ms: round(change.ms) })
      if (this.#databaseChanges.length > 20) this.#databaseChanges.shift()
    },
    epochChanged: (value, reason) => {
      this.#epoch = { value, reason, at: new Date().toISOString() }
    }
  }

  record (request: FastifyRequest, reply: FastifyReply, db: { queries: number, ms: number }): void {
    const cache = reply.getHeader('x-cache')
    this.#requests.push({
      id: request.id,
      at: new Date().toISOString(),
      method: request.method,
      url: request.url,
      route: request.routeOptions.url ?? request.url,
      status: reply.statusCode,
      cache: typeof cache === 'string' ? cache : null,
      operations: this.#operations.get(request) ?? [],
      db: { queries: db.queries, ms: round(db.ms) },
      totalMs: round(reply.elapsedTime)
    })
    if (this.#requests.length > this.#capacity) this.#requests.shift()
  }

  /** Newest first. */
  get requests (): RecordedRequest[] {
    return [...this.#requests].reverse()
  }

  get tallies (): RouteTally[] {
    return [...this.#tallies.values()].sort((a, b) => a.route.localeCompare(b.route))
  }

  /** Newest first. */
  get databaseChanges (): RecordedDatabaseChange[] {
    return [...this.#databaseChanges].reverse()
  }

  get epoch (): RecordedEpoch | undefined {
    return this.#epoch
  }

  get touchedGenerations (): string[] {
    return [...this.#touchedGenerations].reverse()
  }

  #push (request: FastifyRequest, operation: CacheOperation, first = false): void {
    const operations = this.#operations.get(request)
    if (!operations) this.#operations.set(request, [operation])
    else if (first) operations.unshift(operation)
    else operations.push(operation)
  }
}

function round (ms: number): number {
  return Math.round(ms * 100) / 100
}
