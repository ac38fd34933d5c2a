import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Queryable } from '../db/queryable.ts'
import { errorBody, type HttpError } from '../errors.ts'
import { etagOf, JSON_CONTENT_TYPE, matchesIfNoneMatch } from './http.ts'
import type { Served } from './response-cache.ts'
import type { CachedResponse } from './store.ts'
import type { View } from './views.ts'

/** A route's read of its data, with the request's database handle; a 404 is thrown as an HttpError. */
export type Loader = (db: Queryable) => Promise<unknown>

/** One form a cached response can be sent in: its bytes and their ETag. */
export type Representation = Pick<CachedResponse, 'body' | 'etag'>

/**
 * The HTTP side of the cache: a route's GET answered through `app.cache`. On a miss the route's
 * `load` runs with the request's database handle and its result is serialised with the route's own
 * response schema: those bytes are what is cached. Then the representation the request gets is
 * chosen and sent with `X-Cache`, `ETag` and `Server-Timing`, or a `304` when `If-None-Match`
 * names it.
 */
export function serveFromCache (
  request: FastifyRequest,
  reply: FastifyReply,
  view: View,
  load: Loader
): FastifyReply | Promise<FastifyReply> {
  const served = request.server.cache.read(view, () => produce(request, reply, load), request)
  return served instanceof Promise
    ? served.then((answer) => send(request, reply, answer))
    : send(request, reply, served)
}

/** Loads, and serialises with the route's own response schema; a 404 becomes a cacheable error body. */
async function produce (request: FastifyRequest, reply: FastifyReply, load: Loader): Promise<CachedResponse> {
  let status = 200
  let payload: unknown
  try {
    payload = await load(request.db)
  } catch (error) {
    const { statusCode, message, code } = error as HttpError
    if (statusCode !== 404) throw error
    status = 404
    payload = errorBody(404, message, code)
  }
  // Fastify's serializers for JSON schemas produce strings.
  const body = Buffer.from(reply.code(status).serialize(payload) as string)
  return { status, etag: etagOf(body), body }
}

/**
 * The representation of `response` this request gets. A cached response has one today, its
 * identity bytes (JSON); this is where content negotiation chooses among several.
 */
function representationFor (response: CachedResponse, _request: FastifyRequest): Representation {
  return response
}

function send (
  request: FastifyRequest,
  reply: FastifyReply,
  { response, outcome, cacheMs, tier }: Served
): FastifyReply {
  const representation = representationFor(response, request)
  reply.header('x-cache', outcome).header('etag', representation.etag)
  if (cacheMs !== undefined) {
    reply.header('server-timing', `cache;${tier === undefined ? '' : `desc=${tier};`}dur=${cacheMs.toFixed(2)}`)
  }
  if (matchesIfNoneMatch(request.headers['if-none-match'], representation.etag)) return reply.code(304).send()
  return reply.code(response.status).header('content-type', JSON_CONTENT_TYPE).send(representation.body)
}
