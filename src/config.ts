import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { CLUSTER_NODES_PATTERN, parseClusterNodes } from './redis-cluster.ts'

/**
 * The whole environment the service reads, in one schema. `.env.example` documents every variable;
 * `loadConfig` is the only place that touches `process.env`.
 */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { default: 'development' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  // Pagination links are absolute and end up in cached bytes, so their origin comes from
  // configuration, never from the request's Host header (which any client can set).
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+$' })),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)), { default: 'info' }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 10_000 }),
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 72_000 }),
  // Processes serving PORT together (node:cluster); `auto`: one per CPU this process may use.
  WORKERS: Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('auto')], { default: 1 }),
  // Comma-separated keys a write must present as `Authorization: Bearer <key>`; unset: writes are open.
  API_KEYS: Type.Optional(Type.String({ pattern: '^[^,\\s]{16,}(,[^,\\s]{16,})*$' })),
  RATE_LIMIT_WRITES: Type.Integer({ minimum: 1, default: 120 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1, default: 60_000 }),
  // Test-only fault injection: every cache load waits this long (ms, or a random ms in "min-max").
  FAULT_LOAD_DELAY_MS: Type.Optional(Type.String({ pattern: '^\\d+(-\\d+)?$' })),

  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  DATABASE_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 2_000 }),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5_000 }),
  EMBEDDED_POSTGRES_DIR: Type.String({ minLength: 1, default: '.data/postgres' }),

  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  // A Redis Cluster instead of one Redis: some of its nodes as host:port,host:port (the client
  // discovers the rest). Mutually exclusive with REDIS_URL.
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: CLUSTER_NODES_PATTERN })),
  // A cache command slower than this counts as a failure: the request is served from PostgreSQL.
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 1, maximum: 10_000, default: 50 }),
  CACHE_MODE: Type.Optional(Type.Union([Type.Literal('off'), Type.Literal('memory'), Type.Literal('redis'), Type.Literal('tiered')])),
  CACHE_TTL: Type.Integer({ minimum: 1, default: 900 }),
  CACHE_NEGATIVE_TTL: Type.Integer({ minimum: 1, default: 30 }),
  CACHE_INVALIDATE: Type.Boolean({ default: true }),
  // Only to demonstrate the stale write-back race the fence closes (as CACHE_INVALIDATE=false does for invalidation).
  CACHE_FENCE: Type.Boolean({ default: true }),
  CACHE_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', default: 'ec' }),
  CACHE_MEMORY_MAX_BYTES: Type.Integer({ minimum: 1024, default: 64 * 1024 * 1024 }),
  CACHE_MEMORY_MAX_ENTRIES: Type.Integer({ minimum: 1, default: 100_000 }),
  // Tiered mode: seconds an in-process (L1) copy may live, a backstop behind the invalidation bus.
  CACHE_L1_TTL: Type.Integer({ minimum: 1, default: 5 }),
  // Opt-in: a miss takes a Redis lease for this long, so instances missing one key load it once.
  CACHE_LEASE_MS: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
  // Opt-in: an invalidation counts as done only once this many replicas of its master have it (WAIT).
  CACHE_INVALIDATION_REPLICAS: Type.Integer({ minimum: 0, maximum: 16, default: 0 }),
  QUERY_MODE: Type.Union([Type.Literal('join'), Type.Literal('naive')], { default: 'join' }),
  // The cache panel is on in development; in production only with a token, which every panel request must carry.
  CACHE_PANEL_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  METRICS: Type.Boolean({ default: true }),
  DOCS: Type.Optional(Type.Boolean())
})

type ConfigInput = Static<typeof ConfigSchema>
export type CacheMode = NonNullable<ConfigInput['CACHE_MODE']>

export type Config = Omit<ConfigInput, 'CACHE_MODE' | 'PUBLIC_URL' | 'DOCS'> & {
  CACHE_MODE: CacheMode
  PUBLIC_URL: string
  DOCS: boolean
  usesRedis: boolean
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Reads, converts and validates the environment. Empty strings count as unset, so a copied
 * `.env.example` with blank values behaves like no value at all.
 * @throws ConfigError naming every invalid variable
 */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const known: Record<string, string> = {}
  for (const name of Object.keys(ConfigSchema.properties)) {
    const value = env[name]
    if (value !== undefined && value !== '') known[name] = value
  }

  const converted = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, { ...known }))
  if (!Value.Check(ConfigSchema, converted)) {
    const problems = [...Value.Errors(ConfigSchema, converted)].map((error) => {
      const name = error.path.replace(/^\//, '') || '(environment)'
      return `${name}=${shown(name, known[name])}: ${error.message}`
    })
    throw new ConfigError(`invalid environment: ${[...new Set(problems)].join('; ')}`)
  }

  const input = converted
  const cacheMode = input.CACHE_MODE ?? (input.REDIS_URL || input.REDIS_CLUSTER_NODES ? 'redis' : 'memory')
  const usesRedis = cacheMode === 'redis' || cacheMode === 'tiered'
  const problems: string[] = []
  if (usesRedis && !input.REDIS_URL && !input.REDIS_CLUSTER_NODES) problems.push(`CACHE_MODE="${cacheMode}": needs REDIS_URL or REDIS_CLUSTER_NODES`)
  problems.push(...redisClusterProblems(input))
  if (input.CACHE_LEASE_MS !== undefined && !usesRedis) problems.push(`CACHE_LEASE_MS: leases live in Redis, so they need CACHE_MODE redis or tiered (not ${cacheMode})`)
  if (input.CACHE_INVALIDATION_REPLICAS > 0 && !usesRedis) problems.push(`CACHE_INVALIDATION_REPLICAS: replicas are Redis's, so it needs CACHE_MODE redis or tiered (not ${cacheMode})`)
  if (input.FAULT_LOAD_DELAY_MS !== undefined && input.NODE_ENV === 'production') problems.push('FAULT_LOAD_DELAY_MS: fault injection is for tests, never production')
  // A write invalidates the memory cache of the process that took it, never its siblings'.
  if (input.WORKERS !== 1 && cacheMode === 'memory') problems.push(`WORKERS=${input.WORKERS}: CACHE_MODE="memory" (the default without REDIS_URL) gives each process a cache of its own, which serves stale entries after a write on another; set REDIS_URL (CACHE_MODE=redis or tiered) or CACHE_MODE=off`)
  if (problems.length > 0) throw new ConfigError(`invalid environment: ${problems.join('; ')}`)

  return {
    ...input,
    CACHE_MODE: cacheMode,
    usesRedis,
    PUBLIC_URL: input.PUBLIC_URL ?? `http://${publicHost(input.HOST)}:${input.PORT}`,
    // The API documentation is public in development and opt-in in production.
    DOCS: input.DOCS ?? input.NODE_ENV !== 'production'
  }
}

/** What the schema cannot say about REDIS_CLUSTER_NODES: a port out of range, or REDIS_URL set too. */
function redisClusterProblems ({ REDIS_URL, REDIS_CLUSTER_NODES }: ConfigInput): string[] {
  if (REDIS_CLUSTER_NODES === undefined) return []
  if (REDIS_URL !== undefined) return ['REDIS_URL and REDIS_CLUSTER_NODES: set one of them, not both (one Redis, or a Redis Cluster)']
  try {
    parseClusterNodes(REDIS_CLUSTER_NODES)
    return []
  } catch (error) {
    return [`REDIS_CLUSTER_NODES=${JSON.stringify(REDIS_CLUSTER_NODES)}: ${(error as Error).message}`]
  }
}

const SECRETS = new Set(['API_KEYS', 'CACHE_PANEL_TOKEN'])

/** A bad value as the error message shows it: secrets never, URLs without their password. */
function shown (name: string, value: string | undefined): string {
  if (value === undefined) return 'null'
  if (SECRETS.has(name)) return '(hidden)'
  return JSON.stringify(value.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@'))
}

function publicHost (host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '127.0.0.1' || host === '::1') return 'localhost'
  return host.includes(':') ? `[${host}]` : host
}
