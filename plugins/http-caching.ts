import { constants } from 'node:zlib'
import compress from '@fastify/compress'
import type { onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { cacheControlPolicy, NO_STORE, type CacheControlPolicy } from '../src/cache/cache-control.ts'
import { BROTLI_QUALITY, GZIP_LEVEL, MIN_COMPRESSED_BYTES } from '../src/cache/tuning.ts'
import { appendRouteHook } from '../src/route-hooks.ts'

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
 * HTTP caching and compression for everything but cached reads, which do both themselves
 * (src/cache/http-cache.ts): every other response is `Cache-Control: no-store` and
 * `Vary: accept-encoding` (writes, the panel, `/metrics`, `/health`, errors), and compressed per
 * request by @fastify/compress, with the levels and the size threshold the cache's own
 * representations use, so a miss compares like with like. (A write's answer is coded by the route,
 * as the representation a GET answers.)
 * With CACHE_PRECOMPRESS=false it compresses cached reads and writes' answers too, on every request.
 * Register before the routes: the header is attached to each route as it is declared.
 */
export default fp(async function httpCaching (app) {
  const { HTTP_MAX_AGE, HTTP_S_MAXAGE, HTTP_STALE_WHILE_REVALIDATE, CACHE_NEGATIVE_TTL } = app.config
  app.decorate('cacheControl', cacheControlPolicy({
    maxAge: HTTP_MAX_AGE,
    sMaxAge: HTTP_S_MAXAGE,
    staleWhileRevalidate: HTTP_STALE_WHILE_REVALIDATE,
    negativeTtl: CACHE_NEGATIVE_TTL
  }))
  // Vary on every one of them, whichever variant is sent: @fastify/compress may encode the route's
  // next response (RFC 9110 §12.5.5 asks it of every response whose content depends on the header).
  const noStore: onRequestHookHandler = (_request, reply, done) => {
    reply.header('cache-control', NO_STORE).header('vary', 'accept-encoding')
    done()
  }
  app.addHook('onRoute', (route) => {
    if (!route.config?.cachedRead) appendRouteHook(route, 'onRequest', noStore)
    // Only identity is stored and written: @fastify/compress (its hook runs after this one) compresses
    // every hit, and every write's answer.
    if (!app.config.CACHE_PRECOMPRESS) delete route.compress
  })
  await app.register(compress, {
    encodings: ['br', 'gzip'],
    threshold: MIN_COMPRESSED_BYTES,
    brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } },
    zlibOptions: { level: GZIP_LEVEL }
  })
}, { name: 'http-caching', dependencies: ['errors'] })
