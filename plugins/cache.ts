import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { createResponseCache, type ResponseCache } from '../src/cache/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    cache: ResponseCache<FastifyRequest>
  }
}

/** `app.cache`: the response cache for CACHE_MODE (src/cache/create-response-cache.ts). */
export default fp(async function cache (app) {
  const responseCache = await createResponseCache<FastifyRequest>(app.config, {
    redis: app.hasDecorator('redis') ? app.redis : undefined,
    pool: app.pg.pool,
    log: app.log
  })
  app.decorate('cache', responseCache)
  // The last replay needs Redis and the journal needs the pool: both close after this plugin's hook.
  app.addHook('onClose', () => responseCache.close())
}, { name: 'cache', dependencies: ['request-db'] })
