import { readFile } from 'node:fs/promises'
import t from 'tap'
import { keyspace } from '../src/cache/views.ts'
import { buildTestApp } from './support/app.ts'
import { CACHE_TEST_MODES, cacheEnv } from './support/cache-modes.ts'
import { postEvent } from './support/fixtures.ts'

const TOKEN = 'a-long-enough-panel-token-0123456789'

for (const mode of CACHE_TEST_MODES) {
  t.test(`${mode}: the panel shows each request's cache story, and metadata only`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    const event = await postEvent(app, { name: 'Secret Summit' })
    await app.inject('/events')
    await app.inject('/events')
    await app.inject(`/events/${event.id}`)
    await app.inject('/docs/json')
    await app.inject('/_cache')
    // The health checks (liveness, and readiness asking PostgreSQL) and the scrape: tooling, not API use.
    for (const url of ['/health/live', '/health', '/metrics']) {
      t.equal((await app.inject(url)).statusCode, 200, `${url} answers`)
    }

    const state = (await app.inject('/_cache.json')).json()
    t.equal(state.mode, mode === 'cluster' ? 'redis' : mode, 'a cluster is the redis store')
    t.equal(state.breaker, mode === 'memory' ? null : 'closed')
    const [detail, hit, miss, created] = state.requests
    t.equal(state.requests.length, 4, 'panel, docs, metrics and health requests are left out')
    const recorded = state.requests.map(({ method, url }: { method: string, url: string }) => `${method} ${url}`)
    t.same(recorded, [`GET /events/${event.id}`, 'GET /events', 'GET /events', 'POST /events'],
      'the API requests, newest first')
    const tallied = state.routes.map(({ route }: { route: string }) => route)
    t.same(tallied, ['GET /events', 'GET /events/:id'], 'only API routes are tallied')
    t.match(created, { method: 'POST', url: '/events', status: 201, cache: null, db: { queries: 1 } })
    t.match(created.operations, [{ op: 'invalidate', generations: 2, result: 'done' }])
    t.match(miss, { method: 'GET', url: '/events', route: '/events', status: 200, cache: 'MISS', db: { queries: 1 } })
    const listKey = /:\{events\}:l100:o0$/
    t.match(miss.operations, [
      { op: 'lookup', key: listKey, result: 'MISS' },
      { op: 'fill', key: listKey, result: 'stored' }
    ])
    t.match(hit, { cache: 'HIT', db: { queries: 0, ms: 0 }, operations: [{ op: 'lookup', result: 'HIT' }] })
    t.ok(hit.totalMs > 0)
    t.match(detail, { url: `/events/${event.id}`, route: '/events/:id', cache: 'MISS' })
    t.match(state.routes, [
      { route: 'GET /events', HIT: 1, MISS: 1, hitRatio: 0.5 },
      { route: 'GET /events/:id', MISS: 1 }
    ])
    const keys = state.generations.map((generation: { key: string }) => generation.key)
    t.match(keys, [/\{events\}:gen$/, /\{guests\}:gen$/, /\{e:\d+\}:gen$/], 'each generation once')
    t.equal(state.generations.length, 3)
    const values = state.generations.map((generation: { value: string }) => generation.value)
    if (mode === 'memory') {
      // Counters of this process: the POST bumped {events} and {e:ID}; {guests}, never bumped, has no value of
      // its own, as in Redis.
      t.match(values, [/^[1-9]\d*$/, /^$/, /^[1-9]\d*$/], 'each generation\'s counter, none for {guests}')
      t.not(values[0], values[2], 'every bump takes a value of its own')
    } else {
      const held = await Promise.all(keys.map(async (key: string) => await app.redis.get(key) ?? ''))
      t.same(values, held, 'the values Redis holds')
      // The POST's invalidation wrote tokens for {events} and {e:ID}; nothing ever wrote {guests}.
      t.match(values, [/^[\w-]{12}$/, /^$/, /^[\w-]{12}$/], 'a random token per generation written, none for {guests}')
    }
    t.same(state.namespaces.map((namespace: { route: string }) => namespace.route),
      ['GET /events', 'GET /events/:id', 'GET /events/:id/guests', 'GET /guests', 'GET /guests/:id'])
    t.notMatch(JSON.stringify(state), /Secret Summit/, 'never a cached value')

    const key = miss.operations[0].key
    const inspected = (await app.inject(`/_cache.json?key=${encodeURIComponent(key)}`)).json().key
    t.equal(inspected.key, key)
    const bodyBytes = Buffer.byteLength((await app.inject('/events')).body)
    t.ok(inspected.bytes >= bodyBytes && inspected.bytes < bodyBytes + 200,
      `its stored size (${inspected.bytes} bytes for a ${bodyBytes}-byte body and its header)`)
    t.ok(inspected.ttlMs > 800_000 && inspected.ttlMs <= 900_000, `its TTL (${inspected.ttlMs} ms)`)
    t.same((await app.inject('/_cache.json?key=ec%3Anothing')).json().key, { key: 'ec:nothing' }, 'a key not stored')
  })

  t.test(`${mode}: flushing a namespace makes its next read a MISS and leaves the others`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    const event = await postEvent(app)
    for (const url of ['/events', '/events?limit=5', `/events/${event.id}`]) await app.inject(url)
    const flushed = await app.inject({ method: 'POST', url: '/_cache/flush', payload: { route: 'GET /events' } })
    t.equal(flushed.statusCode, 200)
    t.same(flushed.json(), { route: 'GET /events', flushed: 2 })
    t.equal((await app.inject('/events')).headers['x-cache'], 'MISS')
    t.equal((await app.inject(`/events/${event.id}`)).headers['x-cache'], 'HIT', 'another namespace is untouched')
    const unknown = await app.inject({ method: 'POST', url: '/_cache/flush', payload: { route: 'GET /nothing' } })
    t.equal(unknown.statusCode, 400)
    t.match(unknown.json().message, /^body\/route must be one of "GET \/events"/)
  })
}

for (const mode of CACHE_TEST_MODES.filter((mode) => mode !== 'memory')) {
  t.test(`${mode}: a flush deletes entries, not the fill leases beside them`, async (t) => {
    const app = await buildTestApp(t, { ...await cacheEnv(t, mode), CACHE_LEASE_MS: '5000' })
    const event = await postEvent(app)
    for (const url of ['/events', '/events?limit=5', `/events/${event.id}/guests`]) await app.inject(url)
    const flush = async (route: string) =>
      (await app.inject({ method: 'POST', url: '/_cache/flush', payload: { route } })).json()
    // Each miss took a lease that lives on for CACHE_LEASE_MS beside the entry it filled.
    t.same(await flush('GET /events'), { route: 'GET /events', flushed: 2 })
    t.same(await flush('GET /events/:id/guests'), { route: 'GET /events/:id/guests', flushed: 1 })
  })
}

t.test('production: the panel is off without a token, and needs the token when one is set', async (t) => {
  const off = await buildTestApp(t, { NODE_ENV: 'production' })
  const flush = { method: 'POST', url: '/_cache/flush', payload: { route: 'GET /events' } } as const
  for (const url of ['/_cache', '/_cache.json']) {
    t.equal((await off.inject(url)).statusCode, 404, `${url} does not exist`)
  }
  t.equal((await off.inject(flush)).statusCode, 404)

  const guarded = await buildTestApp(t, { NODE_ENV: 'production', CACHE_PANEL_TOKEN: TOKEN })
  const missing = await guarded.inject('/_cache.json')
  t.equal(missing.statusCode, 401)
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="cache panel"')
  t.match(missing.json(), { statusCode: 401, code: 'EC_PANEL_TOKEN' })
  const state = async (headers: Record<string, string>) =>
    (await guarded.inject({ url: '/_cache.json', headers })).statusCode
  t.equal(await state({ 'x-cache-panel-token': 'wrong' }), 401, 'wrong token')
  t.equal(await state({ 'x-cache-panel-token': `${TOKEN}x` }), 401, 'a longer token')
  t.equal((await guarded.inject(flush)).statusCode, 401, 'the flush too')
  t.equal(await state({ 'x-cache-panel-token': TOKEN }), 200, 'right token in the header')
  t.equal(await state({ authorization: `Bearer ${TOKEN}` }), 200, 'as a Bearer token')
  const page = await guarded.inject(`/_cache?token=${TOKEN}`)
  t.equal(page.statusCode, 200, 'in the query, as the page link carries it')
  t.match(page.headers['content-type'], /^text\/html/)
  t.equal(page.headers['cache-control'], 'no-store')
  t.notMatch(page.body, /(src|href)="(?!data:)|https?:\/\//, 'no external assets: everything inline')
})

t.test('development with a token set: the token is required there too', async (t) => {
  const app = await buildTestApp(t, { CACHE_PANEL_TOKEN: TOKEN })
  t.equal((await app.inject('/_cache.json')).statusCode, 401)
  t.equal((await app.inject({ url: '/_cache.json', headers: { 'x-cache-panel-token': TOKEN } })).statusCode, 200)
})

t.test("the key inspector's placeholder is a key as the cache names it today", async (t) => {
  const page = await readFile(new URL('../src/panel/page.html', import.meta.url), 'utf8')
  const placeholder = /id="key"[^>]*placeholder="([^"]+)"/.exec(page)?.[1]
  t.equal(placeholder, keyspace('ec').views.event(1).key, 'GET /events/1 under the default CACHE_PREFIX')
})
