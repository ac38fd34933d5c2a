import { Type } from '@sinclair/typebox'

const Token = Type.Optional(Type.String({
  maxLength: 256,
  description: 'the panel token (or the x-cache-panel-token header)'
}))

export const PanelPageQuerySchema = Type.Object({ token: Token })

export const PanelStateQuerySchema = Type.Object({
  key: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 300,
    description: 'a cache key to inspect (TTL and size only)'
  })),
  token: Token
})

const Operation = Type.Object({
  op: Type.Union([Type.Literal('lookup'), Type.Literal('fill'), Type.Literal('wait'), Type.Literal('invalidate')]),
  key: Type.Optional(Type.String()),
  result: Type.Optional(Type.String()),
  generations: Type.Optional(Type.Integer()),
  ms: Type.Optional(Type.Number())
})

export const PanelStateSchema = Type.Object({
  mode: Type.String(),
  breaker: Type.Union([Type.String(), Type.Null()]),
  requests: Type.Array(Type.Object({
    id: Type.String(),
    at: Type.String(),
    method: Type.String(),
    url: Type.String(),
    route: Type.String(),
    status: Type.Integer(),
    cache: Type.Union([Type.String(), Type.Null()]),
    operations: Type.Array(Operation),
    db: Type.Object({ queries: Type.Integer(), ms: Type.Number() }),
    totalMs: Type.Number()
  })),
  routes: Type.Array(Type.Object({
    route: Type.String(),
    HIT: Type.Integer(),
    MISS: Type.Integer(),
    BYPASS: Type.Integer(),
    STALE: Type.Integer(),
    OFF: Type.Integer(),
    hitRatio: Type.Number()
  })),
  generations: Type.Array(Type.Object({ key: Type.String(), value: Type.String() })),
  namespaces: Type.Array(Type.Object({ route: Type.String(), pattern: Type.String() })),
  /** CACHE_DB_INVALIDATION: the last writes heard from the database (newest first), and the views' epoch. */
  databaseChanges: Type.Array(Type.Object({
    at: Type.String(),
    id: Type.String(),
    table: Type.String(),
    op: Type.String(),
    rows: Type.Union([Type.Integer(), Type.Literal('all')]),
    generations: Type.Integer(),
    ms: Type.Number()
  })),
  epoch: Type.Union([
    Type.Object({
      value: Type.String(),
      reason: Type.Union([Type.Literal('connected'), Type.Literal('adopted'), Type.Literal('change')]),
      at: Type.String()
    }),
    Type.Null()
  ]),
  key: Type.Optional(Type.Object({
    key: Type.String(),
    ttlMs: Type.Optional(Type.Integer()),
    bytes: Type.Optional(Type.Integer())
  }))
})

export const FlushBodySchema = Type.Object({
  route: Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'the cached route whose entries to drop, e.g. "GET /events"'
  })
}, { additionalProperties: false })

export const FlushResultSchema = Type.Object({ route: Type.String(), flushed: Type.Integer() })
