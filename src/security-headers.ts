import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import helmet from 'helmet'

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

/**
 * Writes API_SECURITY_HEADERS on `reply`, one literal name per call: the hook runs on every response,
 * and `reply.headers(object)` would also list the object's keys and read each by a computed name.
 */
export function writeApiSecurityHeaders (reply: FastifyReply): void {
  reply.header('content-security-policy', API_SECURITY_HEADERS['content-security-policy'])
    .header('strict-transport-security', API_SECURITY_HEADERS['strict-transport-security'])
    .header('x-content-type-options', API_SECURITY_HEADERS['x-content-type-options'])
    .header('x-frame-options', API_SECURITY_HEADERS['x-frame-options'])
}

/** The routes that serve HTML pages (and the scripts and styles they load): Swagger UI and the cache panel. */
export const DOCUMENT_ROUTES = /^\/(docs|_cache)(\/|$)/

/**
 * The headers helmet() sets, lower-cased, read off a stand-in response. Helmet's headers depend on
 * nothing in the request, so its middleware runs once, at boot, rather than on every response.
 */
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
