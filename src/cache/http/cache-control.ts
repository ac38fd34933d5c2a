/** The `Cache-Control` a cached read is sent with: one header value per kind of response, built once. */
export interface CacheControlPolicy {
  ok: string
  /** A cached 404: reused no longer than the cache keeps it. */
  notFound: string
}

/** For every response nothing may keep: errors, writes, the panel, metrics, health. */
export const NO_STORE = 'no-store'

export interface CacheControlSettings {
  maxAge: number
  sMaxAge: number
  staleWhileRevalidate: number
  /** CACHE_NEGATIVE_TTL: how long this cache keeps a 404. */
  negativeTtl: number
}

/**
 * Without freshness (`maxAge` and `sMaxAge` 0), `no-cache`: a client or proxy may store a response
 * but must revalidate it before each reuse, with its ETag (a `304` when it still holds), so every
 * reader sees every acknowledged write. With freshness, `max-age`, `s-maxage` and
 * `stale-while-revalidate` as set: faster for a CDN, at the price of readers seeing old state that long.
 */
export function cacheControlPolicy (settings: CacheControlSettings): CacheControlPolicy {
  const { maxAge, sMaxAge, staleWhileRevalidate, negativeTtl } = settings
  if (maxAge === 0 && sMaxAge === 0) return { ok: 'no-cache', notFound: 'no-cache' }
  const directives = (limit: number) => [
    `max-age=${Math.min(maxAge, limit)}`,
    ...sMaxAge > 0 ? [`s-maxage=${Math.min(sMaxAge, limit)}`] : [],
    ...staleWhileRevalidate > 0 ? [`stale-while-revalidate=${Math.min(staleWhileRevalidate, limit)}`] : []
  ].join(', ')
  return { ok: directives(Infinity), notFound: directives(negativeTtl) }
}
