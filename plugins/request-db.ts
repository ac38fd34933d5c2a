import fp from 'fastify-plugin'
import { CountingQueryable } from '../src/db/counting-queryable.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The database as this request sees it: every query it makes is counted and timed. */
    db: CountingQueryable
  }
}

/** Gives each request a counting database handle and reports the count and time on the response. */
export default fp(async function requestDb (app) {
  app.decorateRequest('db', null as unknown as CountingQueryable)
  app.addHook('onRequest', async (request) => {
    request.db = new CountingQueryable(app.pg.pool)
  })
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-db-queries', request.db.count)
    reply.header('server-timing', `db;dur=${request.db.durationMs.toFixed(2)}`)
  })
}, { name: 'request-db', dependencies: ['postgres'] })
