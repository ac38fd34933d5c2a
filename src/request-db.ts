import type { FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify'
import type { Pool } from 'pg'
import { CountingQueryable } from './db/counting-queryable.ts'

/** Where a request keeps its database handle, once it has one (a request decorator). */
export const kDb = Symbol('request database handle')
type Holder = { [kDb]: CountingQueryable | null }

/**
 * The `db` request decorator: a counting handle on `pool`, created on first use, so that a cache
 * hit never makes one.
 */
export function requestDbDecorator (pool: Pool) {
  return {
    getter (this: FastifyRequest): CountingQueryable {
      const request = this as unknown as Holder
      return (request[kDb] ??= new CountingQueryable(pool))
    }
  }
}

/** What the database did for a request so far (nothing, on a cache hit), without creating a handle. */
export function databaseWork (request: FastifyRequest): DatabaseWork {
  const db = (request as unknown as Holder)[kDb]
  return db === null ? NO_DATABASE_WORK : { queries: db.count, ms: db.durationMs }
}

export interface DatabaseWork { readonly queries: number, readonly ms: number }

/** A request that never made a handle (a cache hit): one object for all of them. */
const NO_DATABASE_WORK: DatabaseWork = Object.freeze({ queries: 0, ms: 0 })

/** What a response says of a request that never touched the database (a cache hit), as constants. */
const NO_QUERIES = '0'
const NO_DATABASE_TIME = 'db;dur=0.00'

/** Requests whose response already says what the database did (a cached read writes it with its own headers). */
export const kReported = Symbol('database work reported')
type Reported = { [kReported]: boolean }

/**
 * Says on a response what the database did for the request: `X-DB-Queries` and a `db` entry in
 * `Server-Timing`, after `timing` (the cache's entry) when given. Call it once the request's
 * queries are over; reportDatabaseWork then leaves the response alone.
 */
export function writeDatabaseWork (request: FastifyRequest, reply: FastifyReply, timing?: string): void {
  const db = (request as unknown as Holder)[kDb]
  ;(request as unknown as Reported)[kReported] = true
  const queries = db === null ? NO_QUERIES : String(db.count)
  const time = db === null ? NO_DATABASE_TIME : `db;dur=${db.durationMs.toFixed(2)}`
  reply.header('x-db-queries', queries).header('server-timing', timing === undefined ? time : `${timing}, ${time}`)
}

/** The same for every response that did not write it itself (writes, errors, tooling), as an onSend hook. */
export const reportDatabaseWork: onSendHookHandler = (request, reply, _payload, done) => {
  if (!(request as unknown as Reported)[kReported]) {
    const cacheTiming = reply.getHeader('server-timing')
    writeDatabaseWork(request, reply, cacheTiming === undefined ? undefined : String(cacheTiming))
  }
  done()
}
