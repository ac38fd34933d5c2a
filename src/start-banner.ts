import type { Config } from './config.ts'

/**
 * The one line a start ends with: where the API answers, the cache mode and where it keeps
 * responses, the database, and the docs and the cache panel where they are on.
 */
export function startBanner (config: Config, { url, database }: { url: string, database: string }): string {
  const parts = [
    `eventcache serving ${url}`,
    `cache: ${cacheDescription(config)}`,
    `PostgreSQL: ${database}`,
    ...config.DOCS ? [`docs: ${url}/docs`] : [],
    ...config.panel ? [`cache panel: ${url}/_cache`] : []
  ]
  return parts.join(' · ')
}

/** The cache mode and where it keeps responses, for a person: never a password. */
export function cacheDescription ({ CACHE_MODE, REDIS_URL, REDIS_CLUSTER_NODES }: Config): string {
  const redis = REDIS_CLUSTER_NODES ? `the Redis Cluster at ${REDIS_CLUSTER_NODES}` : `Redis at ${hostOf(REDIS_URL)}`
  switch (CACHE_MODE) {
    case 'off': return 'off (every read from PostgreSQL)'
    case 'memory': return 'memory (in this process)'
    case 'redis': return `redis (${redis})`
    case 'tiered': return `tiered (in this process, over ${redis})`
  }
}

/** `host:port` of a Redis URL: never its password. */
function hostOf (url: string | undefined): string {
  if (url === undefined) return 'REDIS_URL'
  try {
    const { hostname, port } = new URL(url)
    return `${hostname}:${port || 6379}`
  } catch {
    return 'REDIS_URL'
  }
}
