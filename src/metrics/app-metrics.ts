import type { onResponseHookHandler, onRouteHookHandler } from 'fastify'
import type promClient from 'prom-client'
import type { CacheOutcome, ResponseCache } from '../cache/index.ts'
import { databaseWork } from '../request-db.ts'
import { appendRouteHook } from '../route-hooks.ts'
import { SeriesCounter, SeriesHistogram, type CounterSeries, type HistogramSeries } from './series.ts'

/** Tooling routes: measured by nobody (their own traffic would only blur the API's figures). */
const TOOLING = [/^\/metrics$/, /^\/_cache/, /^\/docs/]

/**
 * The app's Prometheus metrics, registered with `client`'s registry: what the cache did (observed
 * on `cache`), and request durations and database work by route pattern (from `measureRoute`, an
 * `onRoute` hook). Labels are bounded: a route pattern, an outcome, never a key, an id or a URL.
 */
export function appMetrics<Context extends object> (
  client: typeof promClient,
  cache: ResponseCache<Context>
): { measureRoute: onRouteHookHandler } {
  const counter = (name: string, labelNames: string[], help: string) => new client.Counter({ name, help, labelNames })

  // Counted on every read: label sets resolved once (src/metrics/series.ts).
  const reads = new SeriesCounter(client.register, 'eventcache_cache_reads_total',
    'Cached reads by route and X-Cache outcome')
  const fills = counter('eventcache_cache_fills_total', ['route', 'result'],
    'Stores after a miss: stored, refused by the fence, or failed')
  const refreshes = counter('eventcache_cache_refreshes_total', ['route', 'result'],
    'Refresh-ahead loads, started by hits near their entry\'s expiry: stored, refused by the fence, or failed')
  const waits = counter('eventcache_cache_flight_waits_total', ['route'],
    'Misses that waited for another request\'s load (single-flight)')
  const invalidations = counter('eventcache_cache_invalidations_total', ['result'],
    'Invalidations after writes: done, or owed to an unreachable Redis')
  const generations = counter('eventcache_cache_invalidated_generations_total', [],
    'Generations given a new value by invalidations')
  const databaseChanges = counter('eventcache_cache_db_changes_total', ['table', 'scope'],
    'Writes made outside the API, heard from PostgreSQL (CACHE_DB_INVALIDATION): listing their rows, or all')
  const epochs = counter('eventcache_cache_epochs_total', ['reason'],
    'New epochs for every view: on (re)connecting to PostgreSQL\'s changes, adopted from another instance, ' +
    'or for a change too large to list')
  new client.Gauge({ // eslint-disable-line no-new -- registered on creation, read on scrape
    name: 'eventcache_cache_breaker_open',
    help: '1 while a Redis shard\'s circuit breaker is open or an invalidation is owed ' +
      '(part of the cache served from PostgreSQL), else 0',
    collect () { this.set(cache.partlyBypassed === true ? 1 : 0) }
  })
  const durations = new SeriesHistogram(client.register, 'http_request_duration_seconds',
    'request duration in seconds')
  const queries = counter('eventcache_db_queries_total', ['route'],
    'PostgreSQL queries by route')
  const databaseTime = new client.Histogram({
    name: 'eventcache_db_request_duration_seconds',
    help: 'Time a request spent in PostgreSQL queries, for requests that queried',
    labelNames: ['route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
  })

  // Tiered mode: publish on one instance → L1 copies dropped on this one (the stale window).
  const invalidationLag = new client.Histogram({
    name: 'eventcache_cache_invalidation_lag_seconds',
    help: "Tiered mode: from another instance's publish to this instance dropping its L1 copies",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1]
  })

  // Per route, then per outcome: both are constants, so no key is built per read.
  const readsByRoute = new Map<string, Map<CacheOutcome, CounterSeries>>()
  const readsOf = (route: string, outcome: CacheOutcome) => {
    let byOutcome = readsByRoute.get(route)
    if (byOutcome === undefined) readsByRoute.set(route, byOutcome = new Map())
    let series = byOutcome.get(outcome)
    if (series === undefined) {
      series = reads.series(`${route} ${outcome}`, () => ({ route, outcome }))
      byOutcome.set(outcome, series)
    }
    return series
  }
  cache.events.observe({
    served: (_request, view, outcome) => readsOf(view.route, outcome).inc(),
    remoteInvalidated: (_generations, lagMs) => invalidationLag.observe(lagMs / 1000),
    filled: (_request, view, result) => fills.inc({ route: view.route, result }),
    joinedFlight: (_request, view) => waits.inc({ route: view.route }),
    refreshed: (view, result) => refreshes.inc({ route: view.route, result }),
    invalidated: (_request, touched, result) => {
      invalidations.inc({ result })
      generations.inc(touched.length)
    },
    databaseChanged: ({ table, rows }) => databaseChanges.inc({ table, scope: rows === 'all' ? 'all' : 'rows' }),
    epochChanged: (_epoch, reason) => epochs.inc({ reason })
  })

  // Each route's own hook knows its pattern: no route lookup per response. A URL no route matches
  // (a 404) is not measured; tooling is counted in the database figures only.
  const measureRoute: onRouteHookHandler = (route) => {
    const pattern = route.url
    const measures = !TOOLING.some((tooling) => tooling.test(pattern))
    // The route's series by status (and method, for a route of several), found without building a key.
    const byStatus = new Map<number | string, HistogramSeries>()
    const oneMethod = typeof route.method === 'string'
    const measure: onResponseHookHandler = (request, reply, done) => {
      const { method } = request
      const status = reply.statusCode
      if (measures) {
        const key = oneMethod ? status : `${method} ${status}`
        let series = byStatus.get(key)
        if (series === undefined) {
          const labels = () => ({ method, route: pattern, status_code: status })
          series = durations.series(`${method} ${status} ${pattern}`, labels)
          byStatus.set(key, series)
        }
        series.observe(reply.elapsedTime / 1000)
      }
      const work = databaseWork(request)
      if (work.queries > 0) {
        const label = { route: `${method} ${pattern}` }
        queries.inc(label, work.queries)
        databaseTime.observe(label, work.ms / 1000)
      }
      done()
    }
    appendRouteHook(route, 'onResponse', measure)
  }
  return { measureRoute }
}
