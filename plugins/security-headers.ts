import type { IncomingMessage, ServerResponse } from 'node:http'
import type { onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import { appendRouteHook } from '../src/route-hooks.ts'

/**
 * What every API response carries: the headers OWASP's REST Security Cheat Sheet names for API
 * responses (with `Cache-Control` and `Content-Type`, which the routes set). A JSON body is not a
 * document a browser renders, so it is given nothing to load and no frame to be shown in.
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY'
})

/** The routes that serve HTML pages (and the scripts and styles they load): Swagger UI and the cache panel. */
const DOCUMENT_ROUTES = /^\/(docs|_cache)(\/|$)/

/**
 * Security headers: the API set above on every response, and helmet's full set (cross-origin
 * policies, referrer policy, a CSP for pages, …) on the HTML pages, where browsers act on them.
 * Swagger UI sets its own CSP on top (its `staticCSP`), the cache panel one with the hash of its
 * inline script.
 *
 * Each header costs every response the same work whatever it says, and a hit does little else:
 * helmet's HTML headers, which do nothing for a JSON body, would be a large share of a cached hit.
 * Helmet's headers depend on nothing in the request, so its middleware runs once, at boot,
 * against a response that only records them.
 */
export default fp(async function securityHeaders (app) {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(API_SECURITY_HEADERS)
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

/** The headers helmet() sets, lower-cased, read off a stand-in response. */
export function recordedHelmetHeaders (): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader (name: string, value: string) { headers[name.toLowerCase()] = value },
    removeHeader (name: string) { delete headers[name.toLowerCase()] }
  }
  let finished = false
  helmet()({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error !== undefined) throw error
    finished = true
  })
  // A future helmet that reads the request or answers asynchronously cannot be recorded once.
  if (!finished) throw new Error('helmet() did not finish synchronously: its headers cannot be recorded once')
  return Object.freeze(headers)
}
