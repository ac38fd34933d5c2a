import fp from 'fastify-plugin'
import { apiKeyGuard } from '../src/api-keys.ts'

/**
 * Writes need `Authorization: Bearer <key>` when API_KEYS is set (src/api-keys.ts); reads stay
 * public. Runs in onRequest: before parsing, validation, rate counting of the body, and any cache work.
 */
export default fp(async function auth (app) {
  const { API_KEYS } = app.config
  if (API_KEYS === undefined) {
    app.log.warn('API_KEYS is not set: POST, PUT, PATCH and DELETE are open to anyone')
    return
  }
  app.addHook('onRequest', apiKeyGuard(API_KEYS))
}, { name: 'auth' })
