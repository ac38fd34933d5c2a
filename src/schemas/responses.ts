// Every status an operation answers, with its body schema and the headers it sends: the OpenAPI
// document is generated from these, so a client generated from it knows each answer it can get.
import { Type, type TSchema } from '@sinclair/typebox'
import { ErrorSchema } from './common.ts'

const text = (description: string) => Type.String({ description })

/** What every API response says of the work behind it (src/request-db.ts). */
const WORK = {
  'x-db-queries': text('PostgreSQL queries this request made (0 on a hit)'),
  'server-timing': text('cache and db durations in milliseconds, e.g. `cache;dur=0.21, db;dur=0.00`')
}

/** What a cached read sends (src/cache/http/http-cache.ts). */
const CACHED = {
  'x-cache': Type.Union(['HIT', 'MISS', 'BYPASS', 'STALE', 'OFF'].map((outcome) => Type.Literal(outcome)), {
    description: 'what the cache did: HIT, MISS, BYPASS (served from PostgreSQL), STALE (grace), OFF'
  }),
  etag: text('the strong ETag of the representation sent, for If-None-Match'),
  'cache-control': text('how long a client or a shared cache may keep it (HTTP_MAX_AGE and the settings beside it)'),
  vary: text('accept-encoding: each coding is a representation of its own'),
  ...WORK
}

/** On a write: the write limit (@fastify/rate-limit), per client. */
const RATE_LIMIT = {
  'x-ratelimit-limit': text('writes allowed per window (RATE_LIMIT_WRITES)'),
  'x-ratelimit-remaining': text('writes left in this window'),
  'x-ratelimit-reset': text('seconds until the window starts again')
}

const RETRY_AFTER = { 'retry-after': text('seconds to wait before trying again') }

/** A schema as one answer: its description, and the headers sent with it. */
function answer<Schema extends TSchema> (schema: Schema, description: string, headers: Record<string, TSchema> = {}) {
  return { ...schema, description, ...(Object.keys(headers).length > 0 && { headers }) }
}

const error = (description: string, headers: Record<string, TSchema> = {}) => answer(ErrorSchema, description, headers)

/**
 * Where a path has a parameter: the router (find-my-way's maxParamLength, 100 characters) refuses a
 * longer one before any route, hook or validation sees the request, with its own body.
 */
const TOO_LONG = { 414: error('a path parameter is longer than 100 characters (the router\'s own answer)') }

/** What any request may meet, whatever it asks. */
const ANY = {
  408: answer(Type.Null(), 'the request did not arrive whole within REQUEST_TIMEOUT_MS (Node\'s own answer, no body)'),
  500: error('a fault of the server (the log has it with the request id)', WORK),
  503: error('PostgreSQL cannot be reached, or the server is shutting down; retry', { ...RETRY_AFTER, ...WORK })
}

/** A cached read's 200. */
export const cachedRead = <Ok extends TSchema> (ok: Ok) =>
  answer(ok, 'OK', { ...CACHED, age: text('seconds since it was stored, on a STALE answer') })

/** A cached read's other answers: 304 to If-None-Match, and 404 where it reads one resource. */
export function readAnswers ({ oneResource }: { oneResource: boolean }) {
  return {
    304: answer(Type.Null(), 'Not Modified: If-None-Match names the representation\'s ETag', CACHED),
    400: error('a parameter is invalid (the message names it)', WORK),
    ...(oneResource
      ? { 404: error('no such resource (kept briefly by the cache, as a 200 is)', CACHED), ...TOO_LONG }
      : {}),
    ...ANY
  }
}

/** What a write that answers with the resource sends (src/cache/http/http-cache.ts, sendWritten). */
const WRITTEN = {
  etag: text('the ETag a GET of the resource now answers for the same Accept-Encoding: send it in If-Match'),
  'content-encoding': text('br or gzip when Accept-Encoding asks for it and the body gains by it'),
  vary: text('accept-encoding'),
  ...RATE_LIMIT,
  ...WORK
}

/** A write's success: 201 with Location, 200 with the resource, 204 for a delete. */
export const created = <Ok extends TSchema> (ok: Ok) =>
  answer(ok, 'Created', { location: text('the path of the resource created'), ...WRITTEN })
export const updated = <Ok extends TSchema> (ok: Ok) => answer(ok, 'OK', WRITTEN)
export const deleted = () => answer(Type.Null(), 'Deleted', { ...RATE_LIMIT, ...WORK })

/** A write's other answers; 404, and 412 to its preconditions, where it names one resource. */
export function writeAnswers ({ oneResource }: { oneResource: boolean }) {
  return {
    400: error('the body or a parameter is invalid (the message names the field)', RATE_LIMIT),
    401: error('API_KEYS is set and the request has no valid key'),
    ...(oneResource
      ? {
          404: error('no such resource', RATE_LIMIT),
          412: error('If-Match names no current ETag of the resource, or If-None-Match names one: nothing written',
            RATE_LIMIT),
          ...TOO_LONG
        }
      : {}),
    413: error('the body is longer than any valid one'),
    415: error('the body is not JSON'),
    429: error('too many writes from this client in the window', { ...RATE_LIMIT, ...RETRY_AFTER }),
    ...ANY
  }
}
