import { constants } from 'node:zlib'
import type { onRequestHookHandler, onRouteHookHandler } from 'fastify'
import { appendRouteHook } from '../../route-hooks.ts'
import { BROTLI_QUALITY, GZIP_LEVEL, MIN_COMPRESSED_BYTES } from '../tuning.ts'
import { NO_STORE } from './cache-control.ts'

/**
 * @fastify/compress's options for what the cache does not code itself: the levels and the size
 * threshold of the cache's own representations, so a miss compares like with like.
 */
export const COMPRESSION = {
  encodings: ['br', 'gzip'],
  threshold: MIN_COMPRESSED_BYTES,
  brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } },
  zlibOptions: { level: GZIP_LEVEL }
} as const

// Vary on every one of them, whichever variant is sent: @fastify/compress may encode the route's
// next response (RFC 9110 §12.5.5 asks it of every response whose content depends on the header).
const noStore: onRequestHookHandler = (_request, reply, done) => {
  reply.header('cache-control', NO_STORE).header('vary', 'accept-encoding')
  done()
}

/**
 * HTTP caching for each route as it is declared. A cached read (CACHED_READ) sets its own headers and
 * sends its stored representations; every other response is `Cache-Control: no-store` and
 * `Vary: accept-encoding` (writes, the panel, `/metrics`, `/health`, errors). Without `precompress`
 * only identity is stored and written: @fastify/compress (its hook runs after this one) compresses
 * every hit, and every write's answer.
 */
export function routeCaching ({ precompress }: { precompress: boolean }): onRouteHookHandler {
  return (route) => {
    if (!route.config?.cachedRead) appendRouteHook(route, 'onRequest', noStore)
    if (!precompress) delete route.compress
  }
}
