import { createHash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import { httpError } from '../src/errors.ts'

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** Tooling with its own guard (the panel's token) or none to give (metrics and docs are reads). */
const NOT_API = /^\/_cache/

/**
 * Writes need `Authorization: Bearer <key>` when API_KEYS is set; reads stay public. Keys are
 * kept only as SHA-256 digests and compared in constant time (every key is compared, so the time
 * does not say which one matched). Runs in onRequest: before parsing, validation, rate counting
 * of the body, and any cache work.
 */
export default fp(async function auth (app) {
  const { API_KEYS } = app.config
  if (API_KEYS === undefined) {
    app.log.warn('API_KEYS is not set: POST, PUT, PATCH and DELETE are open to anyone')
    return
  }
  const digests = API_KEYS.split(',').map(digest)

  app.addHook('onRequest', async (request, reply) => {
    if (!WRITES.has(request.method) || NOT_API.test(request.url)) return
    const header = request.headers.authorization
    const presented = header?.startsWith('Bearer ') ? digest(header.slice(7)) : undefined
    let valid = false
    for (const key of digests) valid = (presented !== undefined && timingSafeEqual(presented, key)) || valid
    if (!valid) {
      reply.header('www-authenticate', 'Bearer realm="eventcache"')
      throw httpError(401, 'writes need a valid API key: Authorization: Bearer <key>', 'EC_UNAUTHORIZED')
    }
  })
}, { name: 'auth' })

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
