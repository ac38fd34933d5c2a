import fp from 'fastify-plugin'
import helmet from 'helmet'

/**
 * Helmet's security headers on every response (nosniff, frame and referrer policies, a strict
 * Content-Security-Policy, …). The two HTML pages set their own CSP on top: Swagger UI through
 * its `staticCSP`, the cache panel with the hash of its one inline script.
 *
 * Helmet itself rather than @fastify/helmet: that plugin calls `helmet(options)` inside its
 * onRequest hook, so every request rebuilds the middleware and parses the CSP directives again,
 * a large share of a cached hit's CPU. Built once here, it only sets headers per request.
 */
export default fp(async function securityHeaders (app) {
  const setHeaders = helmet()
  app.addHook('onRequest', (request, reply, done) => {
    setHeaders(request.raw, reply.raw, (error?: unknown) => done(error as Error | undefined))
  })
}, { name: 'security-headers' })
