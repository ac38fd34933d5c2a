import fp from 'fastify-plugin'
import type { CountingQueryable } from '../src/db/counting-queryable.ts'
import { kDb, kReported, reportDatabaseWork, requestDbDecorator } from '../src/request-db.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The database as this request sees it: every query it makes is counted and timed. */
    readonly db: CountingQueryable
  }
}

/**
 * `request.db`: a counting database handle per request (src/request-db.ts), and on every response
 * what the database did for it (`X-DB-Queries`, `Server-Timing`).
 */
export default fp(async function requestDb (app) {
  app.decorateRequest(kDb, null)
  app.decorateRequest(kReported, false)
  app.decorateRequest('db', requestDbDecorator(app.pg.pool))
  app.addHook('onSend', reportDatabaseWork)
}, { name: 'request-db', dependencies: ['postgres'] })
