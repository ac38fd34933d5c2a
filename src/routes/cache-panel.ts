import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { ENCODINGS, encodedKey, type InspectableStore } from '../cache/index.ts'
import { httpError } from '../errors.ts'
import type { RequestRecorder } from '../panel/recorder.ts'
import { ErrorSchema } from '../schemas/common.ts'
import {
  FlushBodySchema,
  FlushResultSchema,
  PanelPageQuerySchema,
  PanelStateQuerySchema,
  PanelStateSchema
} from '../schemas/panel.ts'

const PAGE = new URL('../panel/page.html', import.meta.url)
const Unauthorized = { 401: ErrorSchema }

/**
 * The cache panel: /_cache (a page, no build step, no external assets), /_cache.json (its data,
 * for scripts too) and POST /_cache/flush. Metadata only: keys, outcomes, timings, TTLs, sizes;
 * never a cached value. With a token configured, every request must carry it.
 */
interface CachePanelOptions {
  recorder: RequestRecorder
  token: string | undefined
}

const cachePanel: FastifyPluginAsyncTypebox<CachePanelOptions> = async (app, { recorder, token }) => {
  const { cache } = app
  const page = await readFile(PAGE, 'utf8')
  // The page's one inline script is allowed by its hash, so the CSP needs no 'unsafe-inline'.
  const script = /<script>([\s\S]*?)<\/script>/.exec(page)?.[1] ?? ''
  const scriptHash = createHash('sha256').update(script).digest('base64')
  const pageCsp = `default-src 'self'; script-src 'sha256-${scriptHash}'; ` +
    "style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
  const tags = ['cache panel']

  if (token !== undefined) {
    const expected = digest(token)
    app.addHook('onRequest', async (request, reply) => {
      const given = presentedToken(request)
      // Compare fixed-length digests: constant time, whatever the lengths of the strings.
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        reply.header('www-authenticate', 'Bearer realm="cache panel"')
        throw httpError(
          401,
          'the cache panel needs a valid token (x-cache-panel-token header, Bearer, or ?token=)',
          'EC_PANEL_TOKEN'
        )
      }
    })
  }

  app.get('/_cache', {
    schema: {
      tags,
      summary: 'The cache panel (HTML)',
      querystring: PanelPageQuerySchema,
      response: { 200: Type.String(), ...Unauthorized }
    }
  }, async function panelPage (_request, reply) {
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', pageCsp)
      .send(page)
  })

  app.get('/_cache.json', {
    schema: {
      tags,
      summary: 'What the panel shows, as JSON',
      querystring: PanelStateQuerySchema,
      response: { 200: PanelStateSchema, ...Unauthorized }
    }
  }, async function panelState (request, reply) {
    const store = cache.store
    const generationKeys = [
      ...new Set([...cache.keys.collectionGenerations, ...recorder.touchedGenerations])
    ]
    const values = store ? await store.generationValues(generationKeys) : []
    const { key } = request.query
    const inspected = key && store ? { key, ...await store.inspect(key) } : undefined
    reply.header('cache-control', 'no-store')
    return {
      mode: cache.mode,
      breaker: cache.partlyBypassed === undefined ? null : cache.partlyBypassed ? 'open' : 'closed',
      requests: recorder.requests,
      routes: recorder.tallies,
      generations: generationKeys.map((generation, i) => ({ key: generation, value: values[i] ?? '' })),
      namespaces: cache.keys.namespaces,
      databaseChanges: recorder.databaseChanges,
      epoch: recorder.epoch ?? null,
      ...(inspected && { key: inspected })
    }
  })

  app.post('/_cache/flush', {
    schema: {
      tags,
      summary: "Drop every cached entry of one route's namespace",
      body: FlushBodySchema,
      response: { 200: FlushResultSchema, 400: ErrorSchema, ...Unauthorized }
    }
  }, async function flushNamespace (request) {
    const namespace = cache.keys.namespaces.find((candidate) => candidate.route === request.body.route)
    if (!namespace) {
      const routes = cache.keys.namespaces.map((n) => `"${n.route}"`).join(', ')
      throw httpError(400, `body/route must be one of ${routes}`, 'FST_ERR_VALIDATION')
    }
    const flushed = cache.store ? await flushRepresentations(cache.store, namespace.pattern) : 0
    request.log.info({ route: namespace.route, flushed }, 'cache namespace flushed from the panel')
    return { route: namespace.route, flushed }
  })
}

/** Flushes a namespace in every coding; counts responses (their identity entries), not representations. */
async function flushRepresentations (store: InspectableStore, pattern: string): Promise<number> {
  const [responses] = await Promise.all(ENCODINGS.toReversed().map((encoding) => {
    return store.flush(encodedKey(pattern, encoding))
  }))
  return responses!
}

function presentedToken (request: FastifyRequest): string | undefined {
  const header = request.headers['x-cache-panel-token']
  if (typeof header === 'string') return header
  const authorization = request.headers.authorization
  if (authorization?.startsWith('Bearer ')) return authorization.slice(7)
  const query = (request.query as { token?: unknown } | undefined)?.token
  return typeof query === 'string' ? query : undefined
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export default cachePanel
