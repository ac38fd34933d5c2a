import metricsModule from 'fastify-metrics'
import fp from 'fastify-plugin'
import { appMetrics } from '../src/metrics/app-metrics.ts'

// A CommonJS module with `exports.default`: from ESM the plugin is the default's default.
const fastifyMetrics = metricsModule.default

/**
 * Prometheus metrics at /metrics (fastify-metrics over prom-client): request durations by route
 * pattern, and what the cache and the database did, by route pattern (src/metrics/app-metrics.ts).
 */
export default fp(async function metrics (app) {
  await app.register(fastifyMetrics, {
    endpoint: '/metrics',
    // The app can be built more than once per process (tests): start from an empty registry.
    clearRegisterOnInit: true,
    defaultMetrics: { enabled: true },
    // Request durations are observed by appMetrics, from the time Fastify keeps anyway: the plugin's own
    // per-request timer (a hook, a WeakMap entry and a closure per request) cost a cached hit CPU.
    routeMetrics: { enabled: false }
  })
  const { measureRoute } = appMetrics(app.metrics.client, app.cache)
  app.addHook('onRoute', measureRoute)
}, { name: 'metrics', dependencies: ['cache', 'request-db'] })
