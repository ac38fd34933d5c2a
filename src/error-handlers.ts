import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AllowedMethods } from './allowed-methods.ts'
import { NO_STORE } from './cache/index.ts'
import { DatabaseUnavailableError, errorBody, refusedInput, type HttpError } from './errors.ts'

/**
 * One error policy for the API: 4xx keep their message (it names the field or the id); 5xx are
 * logged with the request id and answer a generic message, never a stack or SQL. A database that
 * cannot be reached is a 503 with Retry-After, so clients and load balancers back off.
 */
export async function handleError (raised: HttpError, request: FastifyRequest, reply: FastifyReply) {
  const error = refusedInput(raised, request.method, request.body) ?? raised
  const statusCode = error.statusCode ?? 500
  // Nobody may keep an error: the next request may well succeed. (A cached 404 is not an error
  // here: serveFromCache sends it, with the cache's Cache-Control.)
  reply.header('cache-control', NO_STORE)
  if (statusCode < 500) {
    return reply.code(statusCode).send(errorBody(statusCode, error.message, error.code))
  }
  if (error instanceof DatabaseUnavailableError) {
    request.log.warn({ err: error }, 'database unavailable')
    return reply
      .code(503)
      .header('retry-after', '1')
      .send(errorBody(503, 'The database is unavailable; retry shortly'))
  }
  request.log.error({ err: error }, 'request failed')
  return reply.code(500).send(errorBody(500, 'Internal Server Error'))
}

/**
 * What the router cannot route: a path served for other methods (405 with Allow, or OPTIONS's 204),
 * or a path no route serves: Fastify's own 404. Each with no-store: a 404 without Cache-Control is
 * cacheable by default (RFC 9111 §4.2.2), and a shared cache could keep one for a route deployed next.
 */
export function unroutedHandler (allowed: AllowedMethods) {
  return function unrouted (request: FastifyRequest, reply: FastifyReply) {
    reply.header('cache-control', NO_STORE)
    const allow = allowed.allowFor(request.url)
    if (allow === undefined) {
      return reply.code(404).send(errorBody(404, `Route ${request.method}:${request.url} not found`))
    }
    reply.header('allow', allow)
    if (request.method === 'OPTIONS') return reply.code(204).send()
    return reply.code(405).send(errorBody(405, `${request.method} is not allowed on ${request.url}; allowed: ${allow}`))
  }
}
