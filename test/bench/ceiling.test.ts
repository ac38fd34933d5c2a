import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import Fastify from 'fastify'
import t from 'tap'
import { writeCeilingBodies } from '../../bench/ceiling/bodies.ts'
import { addCeilingRoutes } from '../../bench/ceiling/routes.ts'
import { ceilingPath, encodingHeaders } from '../../bench/scenarios.ts'
import { buildTestApp } from '../support/app.ts'
import { postEvent } from '../support/fixtures.ts'
import { startRedisServer } from '../support/redis-server.ts'

t.test('the ceiling sends each coding\'s stored bytes on a route of its own, identity where a coding gains nothing',
  async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'eventcache-ceiling-test-'))
    t.teardown(() => rm(directory, { recursive: true, force: true }))
    const page = Buffer.from(JSON.stringify({ data: Array.from({ length: 200 }, (_, id) => ({ id, name: 'x' })) }))
    const small = Buffer.from('{"id":1}')
    const written = await writeCeilingBodies(directory, [
      { name: 'events', route: '/events', identity: page },
      { name: 'event', route: '/events/:id', identity: small }
    ], ['identity', 'br', 'gzip'])
    t.same(written.map(({ name, accepted, body }) => [name, accepted, body.route, body.encoding]), [
      ['events', 'identity', '/events', 'identity'],
      ['events', 'br', '/br/events', 'br'],
      ['events', 'gzip', '/gzip/events', 'gzip'],
      ['event', 'identity', '/events/:id', 'identity'],
      ['event', 'br', '/br/events/:id', 'identity'],
      ['event', 'gzip', '/gzip/events/:id', 'identity']
    ])
    const bytes = async (index: number) => readFile(written[index]!.body.file)
    t.same(await bytes(0), page)
    t.same(brotliDecompressSync(await bytes(1)), page)
    t.same(gunzipSync(await bytes(2)), page)
    t.ok(written[1]!.bytes < page.length / 4, `br: ${written[1]!.bytes} of ${page.length} bytes`)
    t.same(await bytes(4), small, 'too small to gain: the identity bytes, as the cache keeps them')
    t.equal(ceilingPath('br', '/events?limit=100'), '/br/events?limit=100')
    t.equal(ceilingPath('identity', '/events?limit=100'), '/events?limit=100')
    t.same(encodingHeaders('identity'), {}, 'identity: no Accept-Encoding at all')
    t.same(encodingHeaders('gzip'), { 'accept-encoding': 'gzip' })
  })

/** Header names a response sends, less those Node writes for any response. */
const headerNames = (headers: Record<string, unknown>) => Object.keys(headers)
  .filter((name) => !['date', 'connection', 'keep-alive', 'content-length'].includes(name)).sort()

t.test('the header ceiling sends the names of the headers a memory-mode hit sends, in identity and br',
  async (t) => {
    const app = await buildTestApp(t, { CACHE_MODE: 'memory' })
    for (let i = 0; i < 15; i++) await postEvent(app, { description: `an evening of talks, number ${i}` })
    const hitOf = async (headers: Record<string, string>) => {
      await app.inject({ url: '/events?limit=100', headers })
      const hit = await app.inject({ url: '/events?limit=100', headers })
      t.equal(hit.headers['x-cache'], 'HIT')
      return hit
    }
    const identity = await hitOf({})
    const directory = await mkdtemp(join(tmpdir(), 'eventcache-ceiling-test-'))
    t.teardown(() => rm(directory, { recursive: true, force: true }))
    const written = await writeCeilingBodies(directory, [
      { name: 'events', route: '/events', identity: identity.rawPayload }
    ], ['identity', 'br'])
    const ceiling = Fastify({ logger: false })
    t.teardown(() => ceiling.close())
    const routes = await Promise.all(written.map(async ({ body: { file, ...route } }) => {
      return { ...route, body: await readFile(file) }
    }))
    await addCeilingRoutes(ceiling, 'headers', routes)
    for (const encoding of ['identity', 'br'] as const) {
      const hit = encoding === 'identity' ? identity : await hitOf(encodingHeaders(encoding))
      const sent = await ceiling.inject({ url: ceilingPath(encoding, '/events'), headers: encodingHeaders(encoding) })
      t.same(headerNames(sent.headers), headerNames(hit.headers), `${encoding}: the same header names`)
      t.equal(sent.headers.etag, hit.headers.etag, `${encoding}: the representation's own ETag`)
      t.equal(sent.headers['content-encoding'], hit.headers['content-encoding'])
      t.same(sent.rawPayload, hit.rawPayload, `${encoding}: the same bytes`)
    }
  })

t.test('the Redis peer sends the bytes it read from Redis with their type alone, and deletes its keys at close',
  async (t) => {
    const redis = await startRedisServer(t)
    const body = Buffer.from('{"data":[]}')
    const peer = Fastify({ logger: false })
    const route = { route: '/events', body, encoding: 'identity', etag: '"x"' }
    await addCeilingRoutes(peer, 'getBuffer', [route], redis.url)
    t.same(await redis.command('KEYS', '*'), [`eventcache-bench:${process.pid}:/events`], 'one key of this process')
    const sent = await peer.inject('/events')
    t.same(sent.rawPayload, body)
    t.same(headerNames(sent.headers), ['content-type'])
    await peer.close()
    t.same(await redis.command('KEYS', '*'), [], 'gone at close')
  })
