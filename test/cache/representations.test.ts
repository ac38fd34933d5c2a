// Compressed representations stored once and sent as they are, negotiated per RFC 9110 §12.5.3,
// each with its own ETag, Vary, HEAD, and the Cache-Control policy: against real PostgreSQL and
// Redis in every cache mode.
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import t from 'tap'
import { cacheControlPolicy } from '../../src/cache/http/cache-control.ts'
import { encodedKey, preferredEncoding } from '../../src/cache/encodings.ts'
import { buildTestApp, type TestApp } from '../support/app.ts'
import { CACHE_TEST_MODES, cacheEnv } from '../support/cache-modes.ts'
import { createTestDatabase } from '../support/database.ts'
import { patchEvent, postEvent, postGuest } from '../support/fixtures.ts'
import { startRedisServer, type RedisServer } from '../support/redis-server.ts'

t.test('negotiation: q-values, *, identity;q=0, unknown codings, no header', async (t) => {
  const table: Array<[string | undefined, string]> = [
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip', 'gzip'],
    ['x-gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['deflate', 'identity'],
    ['zstd, compress', 'identity'],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['br;q=1.0, gzip;q=1', 'br'],
    ['br;q=0, gzip', 'gzip'],
    ['br;q=0.5', 'br'],
    ['*', 'br'],
    ['*;q=0.5, br;q=0.4', 'gzip'],
    ['gzip;q=0, *', 'br'],
    ['*;q=0', 'identity'],
    ['identity', 'identity'],
    ['identity;q=0', 'identity'],
    ['identity;q=0, gzip;q=0.1', 'gzip'],
    ['identity;q=1, br;q=0.9', 'identity'],
    ['br;q=2, gzip', 'gzip'],
    ['br;q=abc', 'identity'],
    [' br ; q=0.9 ,gzip;q=0.3', 'br'],
    ['br;level=5', 'br']
  ]
  for (const [header, expected] of table) t.equal(preferredEncoding(header), expected, JSON.stringify(header))
  t.equal(preferredEncoding('gzip'), 'gzip', 'a remembered header answers the same')
})

t.test('every representation of a view shares its Redis Cluster hash tag', async (t) => {
  t.equal(encodedKey('ec:v2:{e:1}', 'identity'), 'ec:v2:{e:1}')
  t.equal(encodedKey('ec:v2:{e:1}', 'br'), 'ec:v2:br:{e:1}')
  t.equal(encodedKey('ec:v2:{events}:l10:o0', 'gzip'), 'ec:v2:gzip:{events}:l10:o0')
})

t.test('Cache-Control: no-cache by default; freshness only when asked; a 404 no longer than kept', async (t) => {
  t.same(cacheControlPolicy({ maxAge: 0, sMaxAge: 0, staleWhileRevalidate: 0, negativeTtl: 30 }),
    { ok: 'no-cache', notFound: 'no-cache' })
  t.same(cacheControlPolicy({ maxAge: 60, sMaxAge: 600, staleWhileRevalidate: 30, negativeTtl: 10 }), {
    ok: 'max-age=60, s-maxage=600, stale-while-revalidate=30',
    notFound: 'max-age=10, s-maxage=10, stale-while-revalidate=10'
  })
  t.same(cacheControlPolicy({ maxAge: 0, sMaxAge: 120, staleWhileRevalidate: 0, negativeTtl: 30 }),
    { ok: 'max-age=0, s-maxage=120', notFound: 'max-age=0, s-maxage=30' })
})

const decode: Record<string, (body: Buffer) => Buffer> = {
  br: brotliDecompressSync,
  gzip: gunzipSync,
  identity: (body) => body
}

async function get (app: TestApp, url: string, headers: Record<string, string> = {}) {
  const response = await app.inject({ url, headers })
  return { ...response, bytes: response.rawPayload }
}

/** Enough events and guests that every list page is worth compressing (one event is not). */
async function seed (app: TestApp) {
  let event = await postEvent(app)
  for (let i = 0; i < 14; i++) event = await postEvent(app, { description: `an evening of talks, number ${i}` })
  for (let i = 0; i < 6; i++) await postGuest(app, event.id, { email: `guest${i}@example.com` })
  return event
}

for (const mode of CACHE_TEST_MODES) {
  t.test(`${mode}: each representation decompresses to the identity bytes, which equal CACHE_MODE=off's`,
    async (t) => {
      const database = await createTestDatabase(t)
      const app = await buildTestApp(t, { DATABASE_URL: database, ...await cacheEnv(t, mode) })
      const off = await buildTestApp(t, { DATABASE_URL: database, CACHE_MODE: 'off' })
      const event = await seed(app)
      for (const url of ['/events', '/guests', `/events/${event.id}/guests?limit=100`]) {
        const identity = await get(app, url)
        t.equal(identity.headers['x-cache'], 'MISS', `${url}: the first read misses`)
        t.equal(identity.headers['content-encoding'], undefined)
        t.equal(identity.headers.vary, 'accept-encoding')
        t.equal(identity.bytes.toString(), (await get(off, url)).bytes.toString(), `${url}: identity = off`)
        const etags = new Set([identity.headers.etag])
        for (const encoding of ['br', 'gzip']) {
          const hit = await get(app, url, { 'accept-encoding': encoding })
          t.equal(hit.headers['x-cache'], 'HIT', `${url} ${encoding}: stored with the identity bytes, by one fill`)
          t.equal(hit.headers['x-db-queries'], '0')
          t.equal(hit.headers['content-encoding'], encoding)
          t.equal(hit.headers.vary, 'accept-encoding')
          t.equal(hit.headers['content-length'], String(hit.bytes.length))
          t.ok(hit.bytes.length < identity.bytes.length / 2, `${url} ${encoding}: ${hit.bytes.length} bytes`)
          t.same(decode[encoding]!(hit.bytes), identity.bytes, `${url} ${encoding}: decompresses to identity`)
          const again = await get(app, url, { 'accept-encoding': encoding })
          t.same(again.bytes, hit.bytes, `${url} ${encoding}: the same stored bytes on every hit`)
          t.equal(again.headers.etag, hit.headers.etag)
          etags.add(hit.headers.etag)

          const uncached = await get(off, url, { 'accept-encoding': encoding })
          t.equal(uncached.headers['content-encoding'], encoding, `${url} ${encoding}: off compresses too`)
          t.same(decode[encoding]!(uncached.bytes), identity.bytes)
        }
        t.equal(etags.size, 3, `${url}: a strong ETag per representation`)
      }
    })

  t.test(`${mode}: If-None-Match matches only the representation being selected; HEAD; small bodies`,
    async (t) => {
      const app = await buildTestApp(t, await cacheEnv(t, mode))
      const event = await seed(app)
      const br = await get(app, '/events', { 'accept-encoding': 'gzip, br' })
      const identity = await get(app, '/events')
      const revalidate = (etag: string, encoding?: string) => get(app, '/events', {
        'if-none-match': etag,
        ...encoding !== undefined && { 'accept-encoding': encoding }
      })
      const notModified = await revalidate(br.headers.etag as string, 'br')
      t.equal(notModified.statusCode, 304)
      t.equal(notModified.bytes.length, 0)
      t.equal(notModified.headers.etag, br.headers.etag)
      t.equal(notModified.headers.vary, 'accept-encoding')
      t.equal(notModified.headers['cache-control'], 'no-cache')
      t.equal((await revalidate(br.headers.etag as string)).statusCode, 200, 'br ETag, identity selected: 200')
      t.equal((await revalidate(br.headers.etag as string, 'gzip')).statusCode, 200, 'br ETag, gzip selected')
      t.equal((await revalidate(identity.headers.etag as string, 'br')).statusCode, 200, 'identity ETag, br')
      t.equal((await revalidate(identity.headers.etag as string)).statusCode, 304)

      for (const encoding of ['br', 'identity']) {
        const headers = { 'accept-encoding': encoding }
        const full = await get(app, '/events', headers)
        const head = await app.inject({ method: 'HEAD', url: '/events', headers })
        t.equal(head.statusCode, 200)
        t.equal(head.rawPayload.length, 0, `HEAD ${encoding}: no body`)
        for (const name of ['etag', 'vary', 'content-type', 'content-length', 'cache-control', 'x-cache']) {
          t.equal(head.headers[name], full.headers[name], `HEAD ${encoding}: ${name} as GET`)
        }
        t.equal(head.headers['content-encoding'], full.headers['content-encoding'])
      }

      // One event is a few hundred bytes: kept only as it is, whatever the client accepts.
      await get(app, `/events/${event.id}`)
      const small = await get(app, `/events/${event.id}`, { 'accept-encoding': 'br' })
      t.equal(small.headers['x-cache'], 'HIT')
      t.equal(small.headers['content-encoding'], undefined, 'too small to gain: identity')
      t.equal(small.headers.vary, 'accept-encoding', 'Vary still: the choice depended on the header')
      t.equal(small.headers.etag, (await get(app, `/events/${event.id}`)).headers.etag)
    })

  t.test(`${mode}: a write invalidates every representation at once (Accept-Encoding: br)`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    const event = await seed(app)
    const br = { 'accept-encoding': 'br' }
    const views = ['/events', '/guests', `/events/${event.id}/guests`, `/events/${event.id}`]
    for (const url of views) {
      await get(app, url, br)
      t.equal((await get(app, url, br)).headers['x-cache'], 'HIT', `${url}: filled`)
      t.equal((await get(app, url)).headers['x-cache'], 'HIT', `${url}: identity filled with it`)
    }
    await patchEvent(t, app, event.id, { name: 'Renamed while compressed' })
    for (const url of views) {
      for (const headers of [br, { 'accept-encoding': 'gzip' }, {}]) {
        const read = await get(app, url, headers)
        t.equal(read.headers['x-cache'], headers === br ? 'MISS' : 'HIT', `${url} ${JSON.stringify(headers)}`)
        const body = decode[read.headers['content-encoding'] as string ?? 'identity']!(read.bytes).toString()
        t.match(body, /Renamed while compressed/, `${url} ${JSON.stringify(headers)}: the new state`)
      }
    }
  })
}

/** Every command the app's connections sent, by name, and the bytes Redis has written to all clients. */
async function redisCounters (redis: RedisServer) {
  const info = String(await redis.command('INFO', 'all'))
  const calls = Object.fromEntries([...info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)].map(([, n, c]) => [n!, +c!]))
  return { mget: calls.mget ?? 0, outputBytes: Number(/total_net_output_bytes:(\d+)/.exec(info)![1]) }
}

t.test('redis: a br hit is one MGET and moves the compressed bytes, not the identity ones', async (t) => {
  const redis = await startRedisServer(t)
  const app = await buildTestApp(t, await cacheEnv(t, 'redis', redis.url))
  await seed(app)
  const identity = await get(app, '/events?limit=100')
  const cost = async (headers: Record<string, string>) => {
    const before = await redisCounters(redis)
    const hit = await get(app, '/events?limit=100', headers)
    const after = await redisCounters(redis)
    t.equal(hit.headers['x-cache'], 'HIT')
    return { mgets: after.mget - before.mget, bytes: after.outputBytes - before.outputBytes, hit }
  }
  const infoOnly = await (async () => {
    const before = await redisCounters(redis)
    return (await redisCounters(redis)).outputBytes - before.outputBytes
  })()
  const br = await cost({ 'accept-encoding': 'br' })
  const plain = await cost({})
  t.equal(br.mgets, 1, 'one round trip')
  t.equal(plain.mgets, 1)
  const brSent = br.bytes - infoOnly
  t.ok(brSent >= br.hit.bytes.length && brSent < br.hit.bytes.length + 1_000,
    `Redis sent ${brSent} bytes for a ${br.hit.bytes.length}-byte br body`)
  t.ok(plain.bytes - infoOnly >= identity.bytes.length, 'the identity hit moves the identity bytes')
  t.ok(brSent < identity.bytes.length / 3, `br: ${brSent} of ${identity.bytes.length} identity bytes`)
})

t.test('Cache-Control: no-store on writes, errors, health, metrics and the panel; settings reach reads', async (t) => {
  const app = await buildTestApp(t, { CACHE_MODE: 'memory', METRICS: 'true', CACHE_PANEL_TOKEN: 'x'.repeat(32) })
  const created = await app.inject({ method: 'POST', url: '/events', payload: { name: 'x' } })
  t.equal(created.headers['cache-control'], 'no-store', 'a write, or its 400')
  for (const url of ['/health/live', '/metrics', '/_cache', '/events/abc', '/events?limit=-1', '/nowhere']) {
    const response = await app.inject(url)
    t.equal(response.headers['cache-control'], 'no-store', `${url} (${response.statusCode})`)
  }
  t.same((await app.inject('/nowhere?x=1')).json(),
    { statusCode: 404, error: 'Not Found', message: 'Route GET:/nowhere?x=1 not found' }, 'Fastify\'s own 404 body')
  t.equal((await app.inject('/events/999999')).headers['cache-control'], 'no-cache', 'a cached 404')
  const metrics = await app.inject({ url: '/metrics', headers: { 'accept-encoding': 'br' } })
  t.equal(metrics.headers['content-encoding'], 'br', 'responses besides cached reads are compressed per request')
  t.match(brotliDecompressSync(metrics.rawPayload).toString(), /eventcache_/)

  const fresh = await buildTestApp(t, {
    CACHE_MODE: 'memory',
    HTTP_MAX_AGE: '5',
    HTTP_S_MAXAGE: '60',
    HTTP_STALE_WHILE_REVALIDATE: '30',
    CACHE_NEGATIVE_TTL: '3'
  })
  t.equal((await fresh.inject('/events')).headers['cache-control'], 'max-age=5, s-maxage=60, stale-while-revalidate=30')
  t.equal((await fresh.inject('/events/999999')).headers['cache-control'],
    'max-age=3, s-maxage=3, stale-while-revalidate=3')
})

t.test('CACHE_PRECOMPRESS=false: identity alone is stored, and each hit is compressed as it is sent', async (t) => {
  const redis = await startRedisServer(t)
  const app = await buildTestApp(t, { ...await cacheEnv(t, 'redis', redis.url), CACHE_PRECOMPRESS: 'false' })
  await seed(app)
  const identity = await get(app, '/events?limit=100', { 'accept-encoding': 'br' })
  t.equal(identity.headers['x-cache'], 'MISS')
  t.equal(identity.headers['content-encoding'], 'br', 'the miss is compressed per request')
  const keys = (await redis.command('KEYS', '*')) as string[]
  t.ok(keys.some((key) => key.includes('{events}')), 'the list is stored')
  t.same(keys.filter((key) => /:(br|gzip):\{/.test(key)), [], 'no compressed representation is stored')
  for (const encoding of ['br', 'gzip']) {
    const hit = await get(app, '/events?limit=100', { 'accept-encoding': encoding })
    t.equal(hit.headers['x-cache'], 'HIT', `${encoding}: the identity entry serves every coding`)
    t.equal(hit.headers['content-encoding'], encoding, `${encoding}: compressed on the way out`)
    t.match(hit.headers.vary, /accept-encoding/)
    t.same(decode[encoding]!(hit.bytes), decode.br!(identity.bytes))
  }
  const plain = await get(app, '/events?limit=100')
  t.equal(plain.headers['content-encoding'], undefined)
  t.same(plain.bytes, decode.br!(identity.bytes))
})
