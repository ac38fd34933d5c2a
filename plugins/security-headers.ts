import type { onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { appendRouteHook } from '../src/route-hooks.ts'
import { DOCUMENT_ROUTES, recordedHelmetHeaders, writeApiSecurityHeaders } from '../src/security-headers.ts'

/**
 * Security headers (src/security-headers.ts): the API set on every response, and helmet's full set
 * (cross-origin policies, referrer policy, a CSP for pages, …) on the HTML pages, where browsers act
 * on them. Swagger UI sets its own CSP on top (its `staticCSP`), the cache panel one with the hash
 * of its inline script.
 *
 * Each header costs every response the same work whatever it says, and a hit does little else:
 * helmet's HTML headers, which do nothing for a JSON body, would be a large share of a cached hit.
 */
export default fp(async function securityHeaders (app) {
  app.addHook('onRequest', (_request, reply, done) => {
    writeApiSecurityHeaders(reply)
    done()
  })
  const documentHeaders = recordedHelmetHeaders()
  const forDocuments: onRequestHookHandler = (_request, reply, done) => {
    reply.headers(documentHeaders)
    done()
  }
  app.addHook('onRoute', (route) => {
    if (DOCUMENT_ROUTES.test(route.url)) appendRouteHook(route, 'onRequest', forDocuments)
  })
}, { name: 'security-headers' })
