import type { FastifyRequest } from 'fastify'
import metricsModule from 'fastify-metrics'
import fp from 'fastify-plugin'
import { databaseWork } from './request-db.ts'

// A CommonJS module with `exports.default`: from ESM the plugin is the default's default.
const fastifyMetrics = metricsModule.default

/** Tooling routes: measured by nobody (their own traffic would only blur the API's figures). */
const TOOLING = [/^\/metrics$/, /^\/_cache/, /^\/docs/]

/**
 * Prometheus metrics at /metrics (fastify-metrics over prom-client): request durations by route
 * pattern, and what the cache and the database did, by route pattern. Labels are bounded: a route
 * pattern, an outcome, never a key, an id or a URL.
 */
export default fp(async function metrics (app) {
  await app.register(fastifyMetrics, {
    endpoint: '/metrics',
    // The app can be built more than once per process (tests): start from an empty registry.
    clearRegisterOnInit: true,
    defaultMetrics: { enabled: true },
    // Request durations are observed below, from the time Fastify keeps anyway: the plugin's own
    // per-request timer (a hook, a WeakMap entry and a closure per request) cost a cached hit CPU.
    routeMetrics: { enabled: false }
  })
  const client = app.metrics.client
  const counter = (name: string, labelNames: string[], help: string) => new client.Counter({ name, help, labelNames })

  const reads = counter('eventcache_cache_reads_total', ['route', 'outcome'],
    'Cached reads by route and X-Cache outcome')
  const fills = counter('eventcache_cache_fills_total', ['route', 'result'],
    'Stores after a miss: stored, refused by the fence, or failed')
  const waits = counter('eventcache_cache_flight_waits_total', ['route'],
    'Misses that waited for another request\'s load (single-flight)')
  const invalidations = counter('eventcache_cache_invalidations_total', ['result'],
    'Invalidations after writes: done, or owed to an unreachable Redis')
  const generations = counter('eventcache_cache_invalidated_generations_total', [],
    'Generations given a new value by invalidations')
  const { cache } = app
  new client.Gauge({ // eslint-disable-line no-new -- registered on creation, read on scrape
    name: 'eventcache_cache_breaker_open',
    help: '1 while a Redis shard\'s circuit breaker is open or an invalidation is owed ' +
      '(part of the cache served from PostgreSQL), else 0',
    collect () { this.set(cache.partlyBypassed === true ? 1 : 0) }
  })
  const durations = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'request duration in seconds',
    labelNames: ['method', 'route', 'status_code']
  })
  /** Route pattern → measured or not (tooling), decided once per pattern. */
  const measured = new Map<string, boolean>()
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

  cache.observe({
    served: (_request, view, outcome) => reads.inc({ route: view.route, outcome }),
    remoteInvalidated: (_generations, lagMs) => invalidationLag.observe(lagMs / 1000),
    filled: (_request, view, result) => fills.inc({ route: view.route, result }),
    joinedFlight: (_request, view) => waits.inc({ route: view.route }),
    invalidated: (_request, touched, result) => {
      invalidations.inc({ result })
      generations.inc(touched.length)
    }
  })

  app.addHook('onResponse', (request, reply, done) => {
    // Registered routes only (a 404 for an unknown URL has no pattern), tooling left out.
    const pattern = request.routeOptions.url
    if (pattern !== undefined) {
      let measures = measured.get(pattern)
      if (measures === undefined) measured.set(pattern, measures = !TOOLING.some((tooling) => tooling.test(pattern)))
      if (measures) {
        const labels = { method: request.method, route: pattern, status_code: reply.statusCode }
        durations.observe(labels, reply.elapsedTime / 1000)
      }
    }
    const work = databaseWork(request)
    if (work.queries > 0) {
      const route = routeLabel(request)
      queries.inc({ route }, work.queries)
      databaseTime.observe({ route }, work.ms / 1000)
    }
    done()
  })
}, { name: 'metrics', dependencies: ['cache', 'request-db'] })

function routeLabel (request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? 'unknown'}`
}
