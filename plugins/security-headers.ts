import fastifyHelmet from '@fastify/helmet'
import fp from 'fastify-plugin'

/**
 * Helmet's security headers on every response (nosniff, frame and referrer policies, a strict
 * Content-Security-Policy, …). The two HTML pages set their own CSP on top: Swagger UI through
 * its `staticCSP`, the cache panel with the hash of its one inline script.
 */
export default fp(async function securityHeaders (app) {
  await app.register(fastifyHelmet, { global: true })
}, { name: 'security-headers' })
