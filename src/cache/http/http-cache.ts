import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Queryable } from '../../db/queryable.ts'
import { errorBody, type HttpError } from '../../errors.ts'
import { writeDatabaseWork } from '../../request-db.ts'
import { preferredEncoding } from '../encodings.ts'
import { etagOf, JSON_CONTENT_TYPE, matchesIfNoneMatch } from './etag.ts'
import { representationsOf } from '../representations.ts'
import type { Served } from '../served.ts'
import type { CachedResponse } from '../stores/store.ts'
import type { View } from '../views.ts'

/**
 * The options every route answered by serveFromCache spreads in: it sets its own caching headers
 * (plugins/http-caching.ts leaves it alone) and sends its stored representations as they are
 * (@fastify/compress leaves it alone, and costs a hit nothing: neither its compressing onSend hook
 * nor its request-decompressing preParsing hook, which a GET with no body never needs).
 */
export const CACHED_READ = { config: { cachedRead: true }, compress: false, decompress: false } as const

/** A route's read of its data, with the request's database handle; a 404 is thrown as an HttpError. */
export type Loader = (db: Queryable) => Promise<unknown>

/**
 * The HTTP side of the cache: a route's GET (and HEAD) answered through `app.cache`. The request's
 * `Accept-Encoding` chooses the representation (identity, br or gzip), and only that one is looked
 * up. On a miss the route's `load` runs with the request's database handle and its result is
 * serialised with the route's own response schema: those bytes, and their compressed forms, are
 * what is cached. The representation is sent as stored with `Content-Encoding`, its own `ETag`,
 * `Vary`, `Cache-Control`, `X-Cache` and `Server-Timing` (and `Age`, when it is STALE), or a `304`
 * when `If-None-Match` names it.
 *
 * It sends the reply itself, errors included, and returns nothing: a route's handler is a plain
 * function that calls it. A memory or L1 hit is then sent within the handler's own call, where an
 * async handler would add a promise, and Fastify's wait on the reply, to every hit.
 */
export function serveFromCache (request: FastifyRequest, reply: FastifyReply, view: View, load: Loader): void {
  const encoding = preferredEncoding(request.headers['accept-encoding'])
  let served: Served | Promise<Served>
  try {
    served = request.server.cache.read(view, encoding, () => produce(request, reply, load), request)
  } catch (error) {
    reply.send(error)
    return
  }
  if (served instanceof Promise) {
    served.then((answer) => send(request, reply, answer), (error: unknown) => reply.send(error))
  } else {
    send(request, reply, served)
  }
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
  return serialized(reply.code(status), payload)
}

/** The identity representation of `payload`, from the route's response schema for the reply's status. */
function serialized (reply: FastifyReply, payload: unknown): CachedResponse {
  // Fastify's serializers for JSON schemas produce strings.
  const body = Buffer.from(reply.serialize(payload) as string)
  return { status: reply.statusCode, encoding: 'identity', etag: etagOf(body), body }
}

/** The options of a write route that answers with sendWritten, which codes the resource itself. */
export const WRITTEN = { compress: false } as const

/**
 * A write's answer: the resource written, as the representation a following GET of it answers for
 * the request's `Accept-Encoding`: the same bytes in the same coding, under the same `ETag`, which a
 * client sends back in `If-Match` to make its next write conditional on nobody else's.
 */
export async function sendWritten (
  request: FastifyRequest,
  reply: FastifyReply,
  resource: unknown
): Promise<FastifyReply> {
  const identity = serialized(reply, resource)
  const encoding = request.server.config.CACHE_PRECOMPRESS
    ? preferredEncoding(request.headers['accept-encoding'])
    : 'identity'
  const response = encoding === 'identity' ? identity : (await representationsOf(identity, [encoding]))[encoding]
  if (response.encoding !== 'identity') reply.header('content-encoding', response.encoding)
  return reply.header('etag', response.etag).header('content-type', JSON_CONTENT_TYPE).send(response.body)
}

function send (
  request: FastifyRequest,
  reply: FastifyReply,
  { response, outcome, cacheMs, tier, stale }: Served
): FastifyReply {
  const cacheControl = request.server.cacheControl
  if (stale) {
    request.log.warn({ err: stale.error, ageSeconds: stale.ageSeconds },
      'load failed: served the expired response (grace)')
    if (stale.ageSeconds !== undefined) reply.header('age', stale.ageSeconds)
  }
  reply.header('x-cache', outcome)
    .header('etag', response.etag)
    .header('vary', 'accept-encoding')
    .header('cache-control', response.status === 404 ? cacheControl.notFound : cacheControl.ok)
  writeDatabaseWork(request, reply, cacheMs === undefined
    ? undefined
    : `cache;${tier === undefined ? '' : `desc=${tier};`}dur=${cacheMs.toFixed(2)}`)
  // RFC 9110 §13.2.1: a precondition is evaluated only where the answer would be a 2xx; a 404 stays one.
  if (response.status < 300 && matchesIfNoneMatch(request.headers['if-none-match'], response.etag)) {
    // A 304 has no body. Fastify's HEAD route would say `Content-Length: 0` of no payload; given the
    // body it says the 200's length, the one value RFC 9110 §8.6 allows in a 304.
    return reply.code(304).send(request.method === 'HEAD' ? response.body : undefined)
  }
  if (response.encoding !== 'identity') reply.header('content-encoding', response.encoding)
  return reply.code(response.status).header('content-type', JSON_CONTENT_TYPE).send(response.body)
}
