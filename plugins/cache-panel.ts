import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RequestRecorder } from '../src/panel/recorder.ts'
import cachePanelRoutes from '../src/routes/cache-panel.ts'
import { databaseWork } from '../src/request-db.ts'

/** Requests the panel leaves out of its log: its own, and tooling (docs, metrics, health checks). */
const UNRECORDED = /^\/(_cache|docs|metrics|health)(\/|\.|$)/

/**
 * The cache panel: on by default in development; in production only when CACHE_PANEL_TOKEN is
 * set (and then every panel request needs it). Off, its routes do not exist (404).
 */
export default fp(async function cachePanel (app) {
  const { panel, CACHE_PANEL_TOKEN } = app.config
  if (!panel) return

  const recorder = new RequestRecorder(100)
  app.cache.events.observe(recorder.observer)
  app.addHook('onResponse', (request, reply, done) => {
    if (!UNRECORDED.test(routeOf(request))) recorder.record(request, reply, databaseWork(request))
    done()
  })
  await app.register(cachePanelRoutes, { recorder, token: CACHE_PANEL_TOKEN })
}, { name: 'cache-panel', dependencies: ['cache', 'request-db'] })

function routeOf (request: FastifyRequest): string {
  return request.routeOptions.url ?? request.url
}
