import type { Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigSchema, type CacheMode } from './config-schema.ts'
import { parseClusterNodes } from './redis/cluster.ts'

export { CACHE_MODES, ConfigSchema, type CacheMode } from './config-schema.ts'

/** The modes that keep responses in Redis, so need a Redis client. */
const REDIS_CACHE_MODES: ReadonlySet<CacheMode> = new Set(['redis', 'tiered'])

type ConfigInput = Static<typeof ConfigSchema>

/** The validated configuration; CACHE_MODE, PUBLIC_URL and DOCS have their derived defaults filled in. */
export type Config = Omit<ConfigInput, 'CACHE_MODE' | 'PUBLIC_URL' | 'DOCS'> & {
  CACHE_MODE: CacheMode
  PUBLIC_URL: string
  DOCS: boolean
  /** CACHE_MODE keeps responses in Redis (`redis`, `tiered`): the app needs a Redis client. */
  usesRedis: boolean
  /** The cache panel is served: outside production, or with CACHE_PANEL_TOKEN set. */
  panel: boolean
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

  const input = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, { ...known }))
  if (!Value.Check(ConfigSchema, input)) {
    const problems = [...Value.Errors(ConfigSchema, input)].map((error) => {
      const name = error.path.replace(/^\//, '') || '(environment)'
      return `${name}=${shown(name, known[name])}: ${error.message}`
    })
    throw new ConfigError(`invalid environment: ${[...new Set(problems)].join('; ')}`)
  }

  const cacheMode = input.CACHE_MODE ?? (input.REDIS_URL || input.REDIS_CLUSTER_NODES ? 'redis' : 'memory')
  const usesRedis = REDIS_CACHE_MODES.has(cacheMode)
  const problems = [...cacheModeProblems(input, cacheMode, usesRedis), ...redisClusterProblems(input)]
  if (input.FAULT_LOAD_DELAY_MS !== undefined && input.NODE_ENV === 'production') {
    problems.push('FAULT_LOAD_DELAY_MS: fault injection is for tests, never production')
  }
  if (problems.length > 0) throw new ConfigError(`invalid environment: ${problems.join('; ')}`)

  return {
    ...input,
    CACHE_MODE: cacheMode,
    usesRedis,
    panel: input.NODE_ENV !== 'production' || input.CACHE_PANEL_TOKEN !== undefined,
    PUBLIC_URL: input.PUBLIC_URL ?? `http://${publicHost(input.HOST)}:${input.PORT}`,
    // The API documentation is public in development and opt-in in production.
    DOCS: input.DOCS ?? input.NODE_ENV !== 'production'
  }
}

/** Settings that the chosen cache mode cannot honour. */
function cacheModeProblems (input: ConfigInput, cacheMode: CacheMode, usesRedis: boolean): string[] {
  const problems: string[] = []
  if (usesRedis && !input.REDIS_URL && !input.REDIS_CLUSTER_NODES) {
    problems.push(`CACHE_MODE="${cacheMode}": needs REDIS_URL or REDIS_CLUSTER_NODES`)
  }
  if (input.CACHE_LEASE_MS !== undefined && !usesRedis) {
    problems.push(`CACHE_LEASE_MS: leases live in Redis, so they need CACHE_MODE redis or tiered (not ${cacheMode})`)
  }
  if (input.CACHE_INVALIDATION_REPLICAS > 0 && !usesRedis) {
    problems.push('CACHE_INVALIDATION_REPLICAS: replicas are Redis\'s, so it needs CACHE_MODE redis or tiered ' +
      `(not ${cacheMode})`)
  }
  if (input.HTTP_STALE_WHILE_REVALIDATE > 0 && input.HTTP_MAX_AGE === 0 && input.HTTP_S_MAXAGE === 0) {
    problems.push('HTTP_STALE_WHILE_REVALIDATE: there is no freshness to extend without HTTP_MAX_AGE or ' +
      'HTTP_S_MAXAGE above 0')
  }
  // A write invalidates the memory cache of the process that took it, never its siblings'.
  if (input.WORKERS !== 1 && cacheMode === 'memory') {
    problems.push(`WORKERS=${input.WORKERS}: CACHE_MODE="memory" (the default without REDIS_URL) gives each ` +
      'process a cache of its own, which serves stale entries after a write on another; set REDIS_URL ' +
      '(CACHE_MODE=redis or tiered) or CACHE_MODE=off')
  }
  return problems
}

/** What the schema cannot say about REDIS_CLUSTER_NODES: a port out of range, or REDIS_URL set too. */
function redisClusterProblems ({ REDIS_URL, REDIS_CLUSTER_NODES }: ConfigInput): string[] {
  if (REDIS_CLUSTER_NODES === undefined) return []
  if (REDIS_URL !== undefined) {
    return ['REDIS_URL and REDIS_CLUSTER_NODES: set one of them, not both (one Redis, or a Redis Cluster)']
  }
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
