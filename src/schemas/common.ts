import { Type, type Static, type TSchema } from '@sinclair/typebox'

/** PostgreSQL `integer`: larger ids cannot exist, and would make the query fail rather than miss. */
export const MAX_ID = 2_147_483_647
export const MAX_PAGE_SIZE = 100

export const Id = Type.Integer({ minimum: 1, maximum: MAX_ID })

/**
 * Text PostgreSQL can store as it was sent: no NUL (U+0000, which no PostgreSQL text may hold) and
 * no unpaired surrogate (a JSON escape such as "\ud800", which UTF-8 cannot encode).
 */
export const STORABLE_TEXT = '^[^\\u0000\\uD800-\\uDFFF]*$'

export const Name = Type.String({ minLength: 1, maxLength: 255, pattern: STORABLE_TEXT })
export const Timestamp = Type.String({ format: 'date-time' })

export const IdParamsSchema = Type.Object({ id: Id })

/**
 * Django REST framework's LimitOffsetPagination parameters. Unknown query parameters are allowed
 * and ignored: nothing downstream (SQL, links, cache keys) reads anything but these two. Both are
 * optional (the OpenAPI document says so); validation fills in the default of one left out, so a
 * handler always has both: `pageOf`.
 */
export const PaginationQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: MAX_PAGE_SIZE,
    description: `page size, 1 to ${MAX_PAGE_SIZE}`
  })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_ID, default: 0, description: 'rows to skip' }))
})

/**
 * A validated query as the page it names: Ajv has filled in the defaults (useDefaults), so the
 * optional fields are there; nothing is copied on the way (a list's hit path runs through here).
 */
export const pageOf = (query: Static<typeof PaginationQuerySchema>) => query as Required<typeof query>

/** A page in LimitOffsetPagination's shape, so clients of the Django original keep working. */
export function PageSchema<Item extends TSchema> (item: Item) {
  return Type.Object({
    count: Type.Integer({ minimum: 0 }),
    next: Type.Union([Type.String(), Type.Null()]),
    previous: Type.Union([Type.String(), Type.Null()]),
    results: Type.Array(item)
  })
}

/** Fastify's error shape. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.Optional(Type.String()),
  error: Type.String(),
  message: Type.String()
})

/** The preconditions a PUT, PATCH or DELETE may send (src/cache/http/write-preconditions.ts), for OpenAPI. */
export const PreconditionHeadersSchema = Type.Object({
  'if-match': Type.Optional(Type.String({
    description: 'write only if the resource\'s current ETag (from a GET, or a write\'s answer) is one of these, ' +
      'or the resource exists (`*`); else 412 and nothing is written'
  })),
  'if-none-match': Type.Optional(Type.String({
    description: 'write only if the resource\'s current ETag is none of these; `*` always refuses (412)'
  }))
})

/** The precondition a cached read may send (src/cache/http/http-cache.ts), for the OpenAPI document only. */
export const ReadPreconditionHeadersSchema = Type.Object({
  'if-none-match': Type.Optional(Type.String({
    description: 'answer 304 with no body if one of these is the ETag of the representation selected (or `*`)'
  }))
})
