import pg from 'pg'
import t, { type Test } from 'tap'
import { buildTestApp, logCollector, type TestApp } from '../support/app.ts'
import { CACHE_TEST_MODES, cacheEnv } from '../support/cache-modes.ts'
import { createTestDatabase } from '../support/database.ts'
import { postEvent, postGuest } from '../support/fixtures.ts'
import { startRedisServer } from '../support/redis-server.ts'
import { startTcpProxy, viaProxy } from '../support/tcp-proxy.ts'
import { until } from '../support/waiting.ts'

/** A connection of the test's own, holding a transaction open for as long as the test needs. */
async function openTransaction (t: Test, url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  await client.query('BEGIN')
  return client
}

/** Resolves once a statement of the app is waiting for a row lock. */
async function someoneWaitsForALock (url: string): Promise<void> {
  const watcher = new pg.Client({ connectionString: url })
  await watcher.connect()
  try {
    await until('a statement waiting for a lock', async () => {
      const { rows } = await watcher.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
      )
      return rows.length > 0
    }, { withinMs: 5_000, everyMs: 10 })
  } finally {
    await watcher.end()
  }
}

/** Rows of the owed-invalidation journal, straight from PostgreSQL. */
async function journalRows (app: TestApp): Promise<number> {
  const { rows } = await app.pg.pool.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM cache_owed_invalidations'
  )
  return rows[0]!.count
}

for (const mode of CACHE_TEST_MODES) {
  t.test(`${mode}: DELETE /events/:id invalidates a guest added while it waited for the event's lock`, async (t) => {
    const url = await createTestDatabase(t)
    const app = await buildTestApp(t, { ...await cacheEnv(t, mode), DATABASE_URL: url })
    const event = await postEvent(app)

    // What a guest insert's foreign-key check holds on the event until it commits.
    const holder = await openTransaction(t, url)
    await holder.query('SELECT 1 FROM events WHERE id = $1 FOR KEY SHARE', [event.id])
    const deleting = app.inject({ method: 'DELETE', url: `/events/${event.id}` })
    await someoneWaitsForALock(url)

    const guest = await postGuest(app, event.id)
    const filled = await app.inject(`/guests/${guest.id}`)
    t.equal(filled.statusCode, 200, 'the new guest is read while the delete waits')
    t.equal((await app.inject(`/guests/${guest.id}`)).headers['x-cache'], 'HIT', 'and cached')

    await holder.query('COMMIT')
    t.equal((await deleting).statusCode, 204)
    const after = await app.inject(`/guests/${guest.id}`)
    t.equal(after.statusCode, 404, 'the cascade deleted it, and its cached view is gone with it')
    t.equal((await app.inject(`/events/${event.id}/guests`)).statusCode, 404)
  })

  t.test(`${mode}: PATCH /events/:id invalidates a guest added while it waited for the event's lock`, async (t) => {
    const url = await createTestDatabase(t)
    const app = await buildTestApp(t, { ...await cacheEnv(t, mode), DATABASE_URL: url })
    const event = await postEvent(app, { name: 'before' })

    const holder = await openTransaction(t, url)
    await holder.query('SELECT 1 FROM events WHERE id = $1 FOR KEY SHARE', [event.id])
    const patching = app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
    await someoneWaitsForALock(url)

    const guest = await postGuest(app, event.id)
    t.equal((await app.inject(`/guests/${guest.id}`)).json().event.name, 'before', 'read while the update waits')
    t.equal((await app.inject(`/guests/${guest.id}`)).headers['x-cache'], 'HIT')

    await holder.query('COMMIT')
    t.equal((await patching).statusCode, 200)
    const after = await app.inject(`/guests/${guest.id}`)
    t.not(after.headers['x-cache'], 'HIT')
    t.equal(after.json().event.name, 'after', 'the guest view embeds the updated event')
  })

  t.test(`${mode}: an event write whose connection dies after the update committed still invalidates`, async (t) => {
    const url = await createTestDatabase(t)
    const proxy = await startTcpProxy(t, Number(new URL(url).port || 5432))
    const env = { ...await cacheEnv(t, mode), DATABASE_URL: viaProxy(url, proxy.url('postgres')) }
    const app = await buildTestApp(t, env)
    const event = await postEvent(app, { name: 'before' })
    const guest = await postGuest(app, event.id)
    for (const view of [`/events/${event.id}`, `/guests/${guest.id}`, '/events']) {
      await app.inject(view)
      t.equal((await app.inject(view)).headers['x-cache'], 'HIT', `${view} cached`)
    }

    // The answer to whatever the app sends after the UPDATE is lost with its connection.
    proxy.loseAnswerAfter('events-update')
    const patched = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
    t.equal(patched.statusCode, 503, 'the client is told to retry')
    const { rows } = await app.pg.pool.query('SELECT name FROM events WHERE id = $1', [event.id])
    t.equal(rows[0].name, 'after', 'the update did commit')

    t.equal((await app.inject(`/events/${event.id}`)).json().name, 'after', 'the event is not served old')
    t.equal((await app.inject(`/guests/${guest.id}`)).json().event.name, 'after', 'nor the guest that embeds it')
    t.equal((await app.inject('/events')).json().results[0].name, 'after', 'nor the list')
  })
}

for (const mode of ['redis', 'tiered'] as const) {
  t.test(`${mode}: an invalidation still owed when the app closes is replayed by the next app to start`, async (t) => {
    const redis = await startRedisServer(t)
    const proxy = await startTcpProxy(t, redis.port)
    const url = await createTestDatabase(t)
    // cacheEnv's command timeout: this test is about the journal, and its first read must be a HIT even
    // on a busy machine, where Redis behind the test's own proxy can take more than 100 ms to answer.
    const env = { ...await cacheEnv(t, mode, proxy.url('redis')), DATABASE_URL: url, LOG_LEVEL: 'warn' }
    const logs = logCollector()
    const first = await buildTestApp(t, env, { logStream: logs.stream })
    const event = await postEvent(first, { name: 'before' })
    await first.inject(`/events/${event.id}`)
    t.equal((await first.inject(`/events/${event.id}`)).headers['x-cache'], 'HIT', 'cached before Redis goes')

    proxy.cut()
    const patched = await first.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
    t.equal(patched.statusCode, 200, 'the write is answered, its invalidation owed')
    await until('the owed invalidation journaled', async () => await journalRows(first) > 0, { everyMs: 10 })
    await first.close()
    const logged = (message: string) => logs.lines.some((line) => line.msg === message)
    const stillOwed = 'cache invalidations still owed at shutdown: journaled in PostgreSQL, ' +
      'replayed by the next instance to start'
    t.ok(logged(stillOwed), 'closing says what is still owed')

    proxy.heal()
    const second = await buildTestApp(t, env, { logStream: logs.stream })
    t.ok(logged('replaying cache invalidations owed by a stopped instance'), 'starting says so')
    const read = await second.inject(`/events/${event.id}`)
    t.not(read.headers['x-cache'], 'HIT', `the first read is a ${String(read.headers['x-cache'])}`)
    t.equal(read.json().name, 'after', 'never the pre-write entry')
    await until('an empty journal', async () => await journalRows(second) === 0, { withinMs: 5_000, everyMs: 20 })
    t.equal(await journalRows(second), 0, 'the journal is settled once Redis has the invalidation')
    const isHit = async () => (await second.inject(`/events/${event.id}`)).headers['x-cache'] === 'HIT'
    await until(`/events/${event.id} a HIT`, isHit, { withinMs: 5_000, everyMs: 20 })
    t.equal((await second.inject(`/events/${event.id}`)).json().name, 'after', 'and the new state is what is cached')
  })
}

t.test('redis: an owed invalidation replayed while the app runs leaves nothing in the journal', async (t) => {
  const redis = await startRedisServer(t)
  const proxy = await startTcpProxy(t, redis.port)
  const env = { ...await cacheEnv(t, 'redis', proxy.url('redis')), REDIS_COMMAND_TIMEOUT_MS: '1000' }
  const app = await buildTestApp(t, env)
  const event = await postEvent(app, { name: 'before' })
  proxy.cut()
  const patched = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
  t.equal(patched.statusCode, 200)
  await until('the owed invalidation journaled', async () => await journalRows(app) > 0, { everyMs: 10 })
  proxy.heal()
  await until('an empty journal', async () => await journalRows(app) === 0, { withinMs: 10_000, everyMs: 20 })
  t.equal((await app.inject(`/events/${event.id}`)).json().name, 'after')
})
