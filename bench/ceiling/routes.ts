// The ceiling's routes, one per body, in each kind: the bare ceiling, the header ceiling and the
// Redis peer. Each does the least its kind allows, so that it is the mark a hit is measured against.
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import type { CeilingKind } from '../scenarios.ts'
import { bodyHeaders, hitHeaders } from './hit-headers.ts'

/** A route and the bytes it sends, with their Content-Encoding (`identity`: none) and the ETag a hit gives them. */
export interface CeilingRoute {
  route: string
  body: Buffer
  encoding: string
  etag: string
}

/** Adds a route per body to `app`, as `kind` answers; the Redis peer reads its bytes from `redisUrl`. */
export async function addCeilingRoutes (
  app: FastifyInstance,
  kind: CeilingKind,
  routes: readonly CeilingRoute[],
  redisUrl?: string
): Promise<void> {
  if (kind === 'bare') for (const route of routes) addBare(app, route)
  if (kind === 'headers') for (const route of routes) addWithHitHeaders(app, route)
  if (kind === 'getBuffer') {
    if (redisUrl === undefined) throw new Error('the Redis peer needs REDIS_URL')
    await addRedisPeer(app, routes, redisUrl)
  }
}

function addBare (app: FastifyInstance, { route, body, encoding }: CeilingRoute): void {
  if (encoding === 'identity') {
    app.get(route, (_request, reply) => {
      reply.header('content-type', 'application/json; charset=utf-8').send(body)
    })
  } else {
    app.get(route, (_request, reply) => {
      reply.header('content-type', 'application/json; charset=utf-8').header('content-encoding', encoding).send(body)
    })
  }
}

/**
 * One header at a time, names as literals, as a hit writes them: `reply.headers(object)` reads each
 * route's object through one loop, which goes megamorphic once routes differ (a coded body has one
 * header more), and the count then depends on which route V8 optimised first.
 */
function addWithHitHeaders (app: FastifyInstance, { route, body, encoding, etag }: CeilingRoute): void {
  const h = hitHeaders(etag, encoding)
  const coding = h['content-encoding']
  app.get(route, (_request, reply) => {
    reply.header('content-security-policy', h['content-security-policy'])
      .header('strict-transport-security', h['strict-transport-security'])
      .header('x-content-type-options', h['x-content-type-options'])
      .header('x-frame-options', h['x-frame-options'])
      .header('x-cache', h['x-cache'])
      .header('etag', h.etag)
      .header('vary', h.vary)
      .header('cache-control', h['cache-control'])
      .header('server-timing', h['server-timing'])
      .header('x-db-queries', h['x-db-queries'])
    if (coding !== undefined) reply.header('content-encoding', coding)
    reply.header('content-type', h['content-type']).send(body)
  })
}

/**
 * What a user would write with ioredis: read the stored bytes, send them with their type. The bytes
 * are SET under keys of this process's own when the server starts, and deleted when it closes, so
 * that two runs on one Redis never read each other's.
 */
async function addRedisPeer (app: FastifyInstance, routes: readonly CeilingRoute[], redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl)
  const keyOf = (route: string) => `eventcache-bench:${process.pid}:${route}`
  app.addHook('onClose', async () => {
    await redis.del(...routes.map(({ route }) => keyOf(route)))
    await redis.quit()
  })
  for (const { route, body, encoding } of routes) {
    const key = keyOf(route)
    const headers = bodyHeaders(encoding)
    await redis.set(key, body)
    app.get(route, async (_request, reply) => {
      const stored = await redis.getBuffer(key)
      if (stored === null) throw new Error(`${key} is not in Redis`)
      return reply.headers(headers).send(stored)
    })
  }
}
