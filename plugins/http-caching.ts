import compress from '@fastify/compress'
import fp from 'fastify-plugin'
import { cacheControlPolicy, COMPRESSION, routeCaching, type CacheControlPolicy } from '../src/cache/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Cache-Control of cached reads (HTTP_MAX_AGE, HTTP_S_MAXAGE, HTTP_STALE_WHILE_REVALIDATE). */
    cacheControl: CacheControlPolicy
  }
  interface FastifyContextConfig {
    /** Set by CACHED_READ: the route sends stored representations with their own caching headers. */
    cachedRead?: boolean
  }
}

/**
 * HTTP caching and compression (src/cache/http/route-caching.ts): `app.cacheControl` for cached reads,
 * `no-store` for everything else, and @fastify/compress for what the cache does not code itself.
 * Register before the routes: the headers are attached to each route as it is declared.
 */
export default fp(async function httpCaching (app) {
  const { HTTP_MAX_AGE, HTTP_S_MAXAGE, HTTP_STALE_WHILE_REVALIDATE, CACHE_NEGATIVE_TTL, CACHE_PRECOMPRESS } = app.config
  app.decorate('cacheControl', cacheControlPolicy({
    maxAge: HTTP_MAX_AGE,
    sMaxAge: HTTP_S_MAXAGE,
    staleWhileRevalidate: HTTP_STALE_WHILE_REVALIDATE,
    negativeTtl: CACHE_NEGATIVE_TTL
  }))
  app.addHook('onRoute', routeCaching({ precompress: CACHE_PRECOMPRESS }))
  await app.register(compress, { ...COMPRESSION, encodings: [...COMPRESSION.encodings] })
}, { name: 'http-caching', dependencies: ['errors'] })
