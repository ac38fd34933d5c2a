import t from 'tap'
import { buildTestApp } from './support/app.ts'
import { createTestDatabase, withClient } from './support/database.ts'

t.test('/health checks PostgreSQL; /health/live only the process', async (t) => {
  const app = await buildTestApp(t)
  const ready = await app.inject('/health')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', postgres: 'up' })
  t.same((await app.inject('/health/live')).json(), { status: 'ok' })
})

t.test('without PostgreSQL: readiness 503, API 503 with Retry-After, process alive, ' +
  'recovery without restart', async (t) => {
  const database = await createTestDatabase(t)
  const app = await buildTestApp(t, { DATABASE_URL: database, CACHE_MODE: 'off', DATABASE_CONNECT_TIMEOUT_MS: '500' })
  t.equal((await app.inject('/events')).statusCode, 200)

  const name = new URL(database).pathname.slice(1)
  const admin = new URL(database)
  admin.pathname = '/postgres'
  // Cut the app off for real: refuse new connections to its database and end the open ones.
  await withClient(admin.toString(), async (client) => {
    await client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`)
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name])
  })

  const started = Date.now()
  const down = await app.inject('/events')
  t.equal(down.statusCode, 503)
  t.equal(down.headers['retry-after'], '1')
  t.equal(down.headers['cache-control'], 'no-store', 'a 5xx is never cacheable')
  t.same(down.json(), {
    statusCode: 503,
    error: 'Service Unavailable',
    message: 'The database is unavailable; retry shortly'
  })
  t.ok(Date.now() - started < 3_000, 'fails fast')
  t.equal((await app.inject('/health')).statusCode, 503)
  t.same((await app.inject('/health')).json(), { status: 'unavailable', postgres: 'down' })
  t.equal((await app.inject('/health/live')).statusCode, 200)

  await withClient(admin.toString(), (client) => client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`))
  t.equal((await app.inject('/events')).statusCode, 200, 'serves again without a restart')
})

t.test('an unexpected error is a generic 500: no stack, no SQL', async (t) => {
  const database = await createTestDatabase(t)
  const app = await buildTestApp(t, { DATABASE_URL: database, CACHE_MODE: 'off' })
  await withClient(database, (client) => client.query('ALTER TABLE events RENAME COLUMN location TO place'))
  const response = await app.inject('/events')
  t.equal(response.statusCode, 500)
  t.same(response.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' })
  t.notMatch(response.body, /location|column|SELECT|at /)
})

t.test('OpenAPI is generated from the route schemas, with Swagger UI at /docs', async (t) => {
  const app = await buildTestApp(t)
  const ui = await app.inject('/docs/')
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  const spec = (await app.inject('/docs/json')).json()
  t.equal(spec.openapi, '3.0.3')
  t.match(spec.info.description, /^Events and guests on PostgreSQL; cache: memory \(in this process\)\./,
    'it says where this instance caches')
  t.same(Object.keys(spec.paths).sort(), [
    '/events', '/events/{id}', '/events/{id}/guests', '/guests', '/guests/{id}', '/health', '/health/live'
  ])
  t.same(Object.keys(spec.paths['/events/{id}']).sort(), ['delete', 'get', 'patch', 'put'])
  t.match(spec.paths['/guests'].post.requestBody.content['application/json'].schema, {
    required: ['event_id', 'name', 'email'],
    additionalProperties: false
  })
  for (const path of ['/events', '/guests', '/events/{id}/guests']) {
    const query = spec.paths[path].get.parameters.filter((parameter: { in: string }) => parameter.in === 'query')
    t.same(query.map(({ name, required, schema }: { name: string, required: boolean, schema: { default: number } }) =>
      [name, required === true, schema.default]), [['limit', false, 100], ['offset', false, 0]],
    `${path}: limit and offset are optional, with their defaults`)
  }

  // Every status an operation answers, and the headers it sends with each.
  const statuses = (path: string, method: string) => Object.keys(spec.paths[path][method].responses).sort()
  const headers = (path: string, method: string, status: string) =>
    Object.keys(spec.paths[path][method].responses[status].headers ?? {}).sort()
  t.same(statuses('/events', 'get'), ['200', '304', '400', '408', '500', '503'])
  t.same(statuses('/events/{id}', 'get'), ['200', '304', '400', '404', '408', '414', '500', '503'])
  t.same(statuses('/events', 'post'), ['201', '400', '401', '408', '413', '415', '429', '500', '503'])
  t.same(statuses('/guests/{id}', 'patch'),
    ['200', '400', '401', '404', '408', '412', '413', '414', '415', '429', '500', '503'])
  t.same(statuses('/guests/{id}', 'delete'),
    ['204', '400', '401', '404', '408', '412', '413', '414', '415', '429', '500', '503'])
  t.same(headers('/events/{id}', 'get', '200'),
    ['age', 'cache-control', 'etag', 'server-timing', 'vary', 'x-cache', 'x-db-queries'])
  t.same(headers('/events/{id}', 'get', '304'), ['cache-control', 'etag', 'server-timing', 'vary', 'x-cache',
    'x-db-queries'])
  t.same(headers('/events', 'post', '201'), ['content-encoding', 'etag', 'location', 'server-timing', 'vary',
    'x-db-queries', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'])
  t.same(headers('/events/{id}', 'patch', '200'), ['content-encoding', 'etag', 'server-timing', 'vary',
    'x-db-queries', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'])
  const preconditions = spec.paths['/events/{id}'].put.parameters.filter(({ in: where }: { in: string }) =>
    where === 'header')
  t.same(preconditions.map(({ name, required }: { name: string, required: boolean }) => [name, required]),
    [['if-match', false], ['if-none-match', false]], 'If-Match and If-None-Match, optional')
  const readHeaders = spec.paths['/events/{id}'].get.parameters.filter(({ in: where }: { in: string }) =>
    where === 'header')
  t.same(readHeaders.map(({ name }: { name: string }) => name), ['if-none-match'], 'a read: If-None-Match')
  t.same(headers('/events', 'post', '429'),
    ['retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'])
  t.same(headers('/events/{id}', 'get', '503'), ['retry-after', 'server-timing', 'x-db-queries'])
  t.equal(spec.paths['/events/{id}'].get.responses['304'].content, undefined, 'a 304 has no body')
  t.match(spec.paths['/events'].post.responses['413'].content['application/json'].schema,
    { required: ['statusCode', 'error', 'message'] })
})

t.test('documentation is off in production unless DOCS=true', async (t) => {
  const app = await buildTestApp(t, { NODE_ENV: 'production' })
  t.equal((await app.inject('/docs/')).statusCode, 404)
  t.equal((await app.inject('/docs/json')).statusCode, 404)
})

t.test('PostgreSQL sessions killed under load: the process survives and keeps serving', async (t) => {
  const database = await createTestDatabase(t)
  const app = await buildTestApp(t, { DATABASE_URL: database, CACHE_MODE: 'off' })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const admin = new URL(database)
  admin.pathname = '/postgres'
  const running = { stop: false }
  const statuses = new Set<number>()
  // A checked-out client whose session is killed emits 'error' on its own; unheard, it would crash the process.
  const loops = Array.from({ length: 16 }, async () => {
    while (!running.stop) {
      const response = await fetch(`${base}/events`)
      await response.arrayBuffer()
      statuses.add(response.status)
    }
  })
  const name = new URL(database).pathname.slice(1)
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    await withClient(admin.toString(), (client) =>
      client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]))
  }
  running.stop = true
  await Promise.all(loops)
  t.ok([...statuses].every((status) => status === 200 || status === 503),
    `only 200 or 503: ${[...statuses].join(', ')}`)
  t.equal((await app.inject('/events')).statusCode, 200, 'and serving')
})
