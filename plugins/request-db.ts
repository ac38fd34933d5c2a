import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { CountingQueryable } from '../src/db/counting-queryable.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The database as this request sees it: every query it makes is counted and timed. */
    readonly db: CountingQueryable
  }
}

const kDb = Symbol('request database handle')
type Holder = { [kDb]: CountingQueryable | null }

/** What the database did for a request so far (nothing, on a cache hit), without creating a handle. */
export function databaseWork (request: FastifyRequest): { queries: number, ms: number } {
  const db = (request as unknown as Holder)[kDb]
  return { queries: db?.count ?? 0, ms: db?.durationMs ?? 0 }
}

/**
 * Gives each request a counting database handle, created on first use (a cache hit never makes
 * one), and reports on every response what the database did for it: `X-DB-Queries` and a `db`
 * entry in `Server-Timing` (after the cache's, when the cache wrote one).
 */
export default fp(async function requestDb (app) {
  const pool = app.pg.pool
  app.decorateRequest(kDb, null)
  app.decorateRequest('db', {
    getter () {
      const request = this as unknown as Holder
      return (request[kDb] ??= new CountingQueryable(pool))
    }
  })

  app.addHook('onSend', (request, reply, _payload, done) => {
    const { queries, ms } = databaseWork(request)
    const timing = `db;dur=${ms.toFixed(2)}`
    const cacheTiming = reply.getHeader('server-timing')
    reply.header('x-db-queries', queries)
    reply.header('server-timing', cacheTiming === undefined ? timing : `${String(cacheTiming)}, ${timing}`)
    done()
  })
}, { name: 'request-db', dependencies: ['postgres'] })
