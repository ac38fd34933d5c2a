import { createHash, timingSafeEqual } from 'node:crypto'
import type { onRequestAsyncHookHandler } from 'fastify'
import { httpError } from './errors.ts'

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** Tooling with its own guard (the panel's token) or none to give (metrics and docs are reads). */
const NOT_API = /^\/_cache/

/**
 * An onRequest hook refusing writes (401) without `Authorization: Bearer <key>` for one of `keys`
 * (comma-separated); reads stay public. Keys are kept only as SHA-256 digests and compared in
 * constant time (every key is compared, so the time does not say which one matched).
 */
export function apiKeyGuard (keys: string): onRequestAsyncHookHandler {
  const digests = keys.split(',').map(digest)
  return async (request, reply) => {
    if (!WRITES.has(request.method) || NOT_API.test(request.url)) return
    const header = request.headers.authorization
    const presented = header?.startsWith('Bearer ') ? digest(header.slice(7)) : undefined
    let valid = false
    for (const key of digests) valid = (presented !== undefined && timingSafeEqual(presented, key)) || valid
    if (!valid) {
      reply.header('www-authenticate', 'Bearer realm="eventcache"')
      throw httpError(401, 'writes need a valid API key: Authorization: Bearer <key>', 'EC_UNAUTHORIZED')
    }
  }
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
