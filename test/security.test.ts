import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import helmet from 'helmet'
import t from 'tap'
import { BODY_LIMIT } from '../src/app.ts'
import { buildTestApp, logCollector, type TestApp } from './support/app.ts'
import { cacheEnv } from './support/cache-modes.ts'
import { countRows, createTestDatabase } from './support/database.ts'
import { eventInput, postEvent } from './support/fixtures.ts'
import { startRedisServer } from './support/redis-server.ts'

const KEY = 'k-0123456789abcdef-first'
const OTHER_KEY = 'k-0123456789abcdef-second'

/** What POST /events with the example event answers. */
async function postStatus (app: TestApp, headers: Record<string, string> = {}): Promise<number> {
  return (await app.inject({ method: 'POST', url: '/events', payload: eventInput(), headers })).statusCode
}

/** The routes an app serves, as "METHOD /path" (from Fastify's own route tree). */
function routeList (app: TestApp): string[] {
  const routes: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│├└─\s]*)(\S+) \(([^)]+)\)/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    stack.length = depth
    stack.push(match[2]!)
    for (const method of match[3]!.split(', ')) if (method !== 'HEAD') routes.push(`${method} ${stack.join('')}`)
  }
  return routes.sort()
}

t.test('with API_KEYS set, writes need a valid Bearer key and a refused write does nothing', async (t) => {
  const app = await buildTestApp(t, { API_KEYS: `${KEY},${OTHER_KEY}` })
  const event = await app.inject({
    method: 'POST',
    url: '/events',
    payload: eventInput(),
    headers: { authorization: `Bearer ${KEY}` }
  })
  t.equal(event.statusCode, 201, 'the first key')
  const id = event.json().id
  await app.inject(`/events/${id}`) // cached, so a wrongly run invalidation would show

  const refused = [
    { method: 'POST', url: '/events', payload: eventInput() },
    {
      method: 'PATCH',
      url: `/events/${id}`,
      payload: { name: 'x' },
      headers: { authorization: 'Bearer wrong-key-0123456789' }
    },
    { method: 'PUT', url: `/events/${id}`, payload: eventInput(), headers: { authorization: KEY } },
    { method: 'DELETE', url: `/events/${id}`, headers: { authorization: `Basic ${KEY}` } },
    {
      method: 'POST',
      url: '/guests',
      payload: { event_id: id, name: 'a', email: 'a@example.com' },
      headers: { authorization: `Bearer ${KEY}x` }
    },
    { method: 'DELETE', url: `/guests/${id}` }
  ] as const
  for (const request of refused) {
    const response = await app.inject(request)
    t.equal(response.statusCode, 401, `${request.method} ${request.url}`)
    t.equal(response.headers['www-authenticate'], 'Bearer realm="eventcache"')
    t.equal(response.headers['x-db-queries'], '0', 'refused before any database or cache work')
    t.same(response.json(), {
      statusCode: 401,
      code: 'EC_UNAUTHORIZED',
      error: 'Unauthorized',
      message: 'writes need a valid API key: Authorization: Bearer <key>'
    })
  }
  t.same(await countRows(app), { events: 1, guests: 0 }, 'nothing written')
  const cached = await app.inject(`/events/${id}`)
  t.equal(cached.headers['x-cache'], 'HIT', 'and nothing invalidated')

  const withSecondKey = await app.inject({
    method: 'PATCH',
    url: `/events/${id}`,
    payload: { name: 'ok' },
    headers: { authorization: `Bearer ${OTHER_KEY}` }
  })
  t.equal(withSecondKey.statusCode, 200, 'the second key')
  t.equal((await app.inject('/events')).statusCode, 200, 'reads stay public')
  t.equal((await app.inject(`/events/${id}`)).json().name, 'ok')
})

t.test('without API_KEYS the API is open, and says so once at start-up', async (t) => {
  const logs = logCollector()
  const app = await buildTestApp(t, { LOG_LEVEL: 'warn' }, { logStream: logs.stream })
  t.equal(await postStatus(app), 201)
  const aboutKeys = logs.lines.filter((line) => String(line.msg).includes('API_KEYS')).map((line) => line.msg)
  t.same(aboutKeys, ['API_KEYS is not set: POST, PUT, PATCH and DELETE are open to anyone'])
})

t.test('API keys are never echoed: a bad one is refused at boot without its value', async (t) => {
  const { loadConfig } = await import('../src/config.ts')
  t.throws(() => loadConfig({ API_KEYS: 'short' }), { message: /API_KEYS=\(hidden\)/ })
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://user:s3cret@db/x' }), { message: /mysql:\/\/user:\*\*\*@db\/x/ })
})

t.test('writes are rate limited per client: 429 with Retry-After; reads are not', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_WRITES: '3', RATE_LIMIT_WINDOW_MS: '60000' })
  for (let i = 0; i < 3; i++) t.equal(await postStatus(app), 201)
  const limited = await app.inject({ method: 'POST', url: '/events', payload: eventInput() })
  t.equal(limited.statusCode, 429)
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${retryAfter} s, within the 60 s window`)
  t.match(limited.json(), { statusCode: 429, error: 'Too Many Requests', message: /Rate limit exceeded/ })
  t.same(await countRows(app), { events: 3, guests: 0 }, 'the limited write wrote nothing')
  for (let i = 0; i < 10; i++) t.equal((await app.inject('/events')).statusCode, 200)
  t.equal((await app.inject({ url: '/events', headers: { 'x-forwarded-for': '10.9.9.9' } })).statusCode, 200)
})

t.test('with Redis the write limit is shared by instances; with Redis gone each instance still limits', async (t) => {
  const redis = await startRedisServer(t)
  const database = await createTestDatabase(t)
  const env = { ...await cacheEnv(t, 'redis', redis.url), DATABASE_URL: database, RATE_LIMIT_WRITES: '4' }
  const a = await buildTestApp(t, env)
  const b = await buildTestApp(t, env)
  for (const app of [a, b, a, b]) t.equal(await postStatus(app), 201)
  t.equal(await postStatus(a), 429, 'four writes across two instances used the budget')

  await redis.stop()
  const codes = []
  for (let i = 0; i < 6; i++) {
    codes.push((await b.inject({ method: 'PATCH', url: '/events/1', payload: { name: `n${i}` } })).statusCode)
  }
  t.same(codes, [200, 200, 200, 200, 429, 429],
    'counted in the process while Redis is down: limited, not lifted, not failing')
})

/** What helmet() sets on a real Node response: the headers every HTML page must carry. */
function helmetOnRealResponse (): Record<string, unknown> {
  const response = new ServerResponse(new IncomingMessage(new Socket()))
  helmet()(response.req, response, () => {})
  return response.getHeaders()
}

t.test('limits and headers a public API needs', async (t) => {
  const app = await buildTestApp(t)
  t.equal(app.server.requestTimeout, 10_000, 'request timeout')
  t.equal(app.server.keepAliveTimeout, 72_000, 'keep-alive timeout')
  t.equal(app.initialConfig.bodyLimit, BODY_LIMIT, 'body limit: the longest valid body (test/input-rules.test.ts)')
  const response = await app.inject('/events')
  const hit = await app.inject('/events')
  t.equal(hit.headers['x-cache'], 'HIT')
  const notFound = await app.inject('/nowhere')
  for (const [what, answer] of [['a miss', response], ['a hit', hit], ['a 404', notFound]] as const) {
    t.equal(answer.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`)
    t.equal(answer.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'",
      `${what}: nothing to load, no frame to be shown in`)
    t.equal(answer.headers['x-frame-options'], 'DENY', `${what}: never framed`)
    t.equal(answer.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains',
      `${what}: HSTS for a year`)
    t.equal(answer.headers['cross-origin-opener-policy'], undefined, `${what}: no HTML-only headers on JSON`)
  }
  const helmets = helmetOnRealResponse()
  t.ok(Object.keys(helmets).length >= 10, 'helmet sets its dozen headers')
  const page = await app.inject('/_cache')
  for (const [name, value] of Object.entries(helmets)) {
    if (name === 'content-security-policy') continue
    t.equal(page.headers[name], value, `the panel page carries helmet's ${name}, recorded once at boot`)
  }
  const docs = await app.inject('/docs/static/index.html')
  t.match(docs.headers['content-security-policy'], /script-src 'self'/,
    'Swagger UI carries its own CSP (the browser test checks it renders)')
  const panel = await app.inject('/_cache')
  t.match(panel.headers['content-security-policy'], /script-src 'sha256-[A-Za-z0-9+/=]+'/,
    "the panel's inline script is allowed by hash, not 'unsafe-inline'")
  t.equal((await app.inject({ url: '/events?limit=1000' })).statusCode, 400, 'page size capped')
  const oversized = await app.inject({
    method: 'POST',
    url: '/events',
    payload: { name: 'big', date: '2020-07-15', location: 'x', description: 'x'.repeat(BODY_LIMIT) }
  })
  t.equal(oversized.statusCode, 413, 'a body over the limit is refused')
  t.same(await countRows(app), { events: 0, guests: 0 }, 'and writes nothing')
})

t.test('SQL metacharacters in every string field are stored and returned verbatim', async (t) => {
  const app = await buildTestApp(t)
  const nasty = [
    "'; DROP TABLE events; --",
    'Robert"); DELETE FROM guests;--',
    '$1 $$ \\x00 %_ \\\\ `x` /* */',
    "O'Brien & \"Sons\" <b>",
    '😀 ünïcødé \u2028 \t tab'
  ]
  for (const [index, text] of nasty.entries()) {
    const created = await app.inject({
      method: 'POST',
      url: '/events',
      payload: { name: text, date: '2020-07-15', location: text, description: text }
    })
    t.equal(created.statusCode, 201, `string ${index + 1}`) // (a raw U+2028 in an assertion name would break TAP)
    const event = (await app.inject(`/events/${created.json().id}`)).json()
    t.same([event.name, event.location, event.description], [text, text, text], 'event fields verbatim')
    const guest = await app.inject({
      method: 'POST',
      url: '/guests',
      payload: { event_id: event.id, name: text, email: 'x@example.com' }
    })
    t.equal(guest.statusCode, 201)
    t.equal((await app.inject(`/guests/${guest.json().id}`)).json().name, text, 'guest name verbatim')
  }
  t.same(await countRows(app), { events: nasty.length, guests: nasty.length },
    'every table still there, nothing else written')
})

t.test('prototype pollution: bodies with __proto__ or constructor keys are refused and write nothing', async (t) => {
  const app = await buildTestApp(t)
  const bodies = [
    '{"name":"a","date":"2020-07-15","location":"b","__proto__":{"admin":true}}',
    '{"name":"a","date":"2020-07-15","location":"b","constructor":{"prototype":{"admin":true}}}',
    '{"event_id":1,"name":"a","email":"a@example.com","__proto__":{"x":1}}'
  ]
  for (const payload of bodies) {
    const url = payload.includes('event_id') ? '/guests' : '/events'
    const response = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload })
    t.equal(response.statusCode, 400, payload)
  }
  t.same(await countRows(app), { events: 0, guests: 0 })
  t.equal(({} as Record<string, unknown>).admin, undefined, 'nothing polluted')
})

t.test('cache keys cannot be steered by unknown query parameters or by headers', async (t) => {
  const app = await buildTestApp(t, await cacheEnv(t, 'memory'))
  const event = await postEvent(app)
  t.equal((await app.inject(`/events/${event.id}`)).headers['x-cache'], 'MISS')
  const variants = [
    { url: `/events/${event.id}?x=1` },
    { url: `/events/${event.id}?limit=1&offset=5&__proto__=1` },
    {
      url: `/events/${event.id}`,
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'gopher' }
    },
    {
      url: `/events/${event.id}`,
      headers: { accept: 'text/html', 'accept-language': 'fr', cookie: 'session=1', 'x-cache-key': 'mine' }
    },
    { url: `/events/${event.id}/`, headers: { 'x-original-url': '/guests/1', 'x-rewrite-url': '/guests/1' } }
  ]
  for (const variant of variants) {
    const response = await app.inject(variant)
    t.equal(response.headers['x-cache'], 'HIT', JSON.stringify(variant))
  }
  const state = (await app.inject('/_cache.json')).json()
  const requests: Array<{ operations: Array<{ key?: string }> }> = state.requests
  const keys = new Set(requests.flatMap((request) => request.operations.map((operation) => operation.key)))
  keys.delete(undefined)
  t.equal(keys.size, 1, 'one key for all of them')
})

t.test('production: the route list is the API, health and metrics, nothing else', async (t) => {
  const api = [
    'DELETE /events/:id', 'DELETE /guests/:id',
    'GET /events', 'GET /events/:id', 'GET /events/:id/guests', 'GET /guests', 'GET /guests/:id',
    'GET /health', 'GET /health/live', 'GET /metrics',
    'PATCH /events/:id', 'PATCH /guests/:id', 'POST /events', 'POST /guests', 'PUT /events/:id', 'PUT /guests/:id'
  ]
  const production = await buildTestApp(t, { NODE_ENV: 'production' })
  t.same(routeList(production), api)

  const withDocs = await buildTestApp(t, {
    NODE_ENV: 'production',
    DOCS: 'true',
    CACHE_PANEL_TOKEN: 'a-long-enough-panel-token-0123456789'
  })
  const extra = routeList(withDocs).filter((route) => !api.includes(route))
  t.ok(['GET /docs/json', 'GET /_cache', 'POST /_cache/flush'].every((route) => extra.includes(route)),
    'debug routes only when explicitly enabled')
  t.ok(extra.every((route) => /^(GET|POST) \/(docs|_cache)/.test(route)), extra.join(', '))

  const development = await buildTestApp(t)
  t.ok(routeList(development).includes('GET /_cache'), 'the panel is a development default')
})
