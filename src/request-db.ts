import type { FastifyRequest, onSendHookHandler } from 'fastify'
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
export function databaseWork (request: FastifyRequest): { queries: number, ms: number } {
  const db = (request as unknown as Holder)[kDb]
  return { queries: db?.count ?? 0, ms: db?.durationMs ?? 0 }
}

/**
 * Says on a response what the database did for it: `X-DB-Queries` and a `db` entry in
 * `Server-Timing` (after the cache's, when the cache wrote one).
 */
export const reportDatabaseWork: onSendHookHandler = (request, reply, _payload, done) => {
  const { queries, ms } = databaseWork(request)
  const timing = `db;dur=${ms.toFixed(2)}`
  const cacheTiming = reply.getHeader('server-timing')
  reply.header('x-db-queries', queries)
  reply.header('server-timing', cacheTiming === undefined ? timing : `${String(cacheTiming)}, ${timing}`)
  done()
}
