import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { buildTestApp } from '../support/app.ts'
import { CACHE_TEST_MODES, cacheEnv } from '../support/cache-modes.ts'
import { createTestDatabase, withClient } from '../support/database.ts'
import { patchEvent, postEvent } from '../support/fixtures.ts'

/** The database queries a batch of responses made, by their X-DB-Queries. */
function queries (responses: Array<{ headers: Record<string, unknown> }>): number {
  return responses.reduce((sum, response) => sum + Number(response.headers['x-db-queries']), 0)
}

/**
 * The classic race, forced: a miss has loaded the event, then (before it stores) a PATCH commits
 * and invalidates, then the miss stores what it loaded. Returns what the next read shows.
 */
async function raceOnEventDetail (t: Test, env: Record<string, string>) {
  const app = await buildTestApp(t, env)
  const event = await postEvent(app, { name: 'old' })
  let writes = 0
  app.cache.faults.beforeFill = async () => {
    if (writes++ > 0) return
    const patched = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'new' } })
    t.equal(patched.statusCode, 200, 'the write lands while the miss is between load and store')
  }
  const racing = await app.inject(`/events/${event.id}`)
  t.equal(racing.json().name, 'old', 'the racing read loaded before the write')
  t.equal(writes, 1)
  app.cache.faults.beforeFill = undefined
  return await app.inject(`/events/${event.id}`)
}

for (const mode of CACHE_TEST_MODES) {
  t.test(`${mode}: a miss that read the old row cannot store it after a write's invalidation ` +
    '(the fence)', async (t) => {
    const next = await raceOnEventDetail(t, await cacheEnv(t, mode))
    t.equal(next.json().name, 'new', 'the next read shows the write')
    t.equal(next.headers['x-cache'], 'MISS', 'the late store was refused')
  })

  t.test(`${mode}: with the fence switched off the same race serves stale data ` +
    '(so the test above can fail)', async (t) => {
    const next = await raceOnEventDetail(t, { ...await cacheEnv(t, mode), CACHE_FENCE: 'false' })
    t.equal(next.json().name, 'old', 'stale: the old row was stored as current')
    t.equal(next.headers['x-cache'], 'HIT')
  })

  t.test(`${mode}: the fence holds for list pages too`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    await postEvent(app, { name: 'first' })
    let writes = 0
    app.cache.faults.beforeFill = async () => {
      if (writes++ === 0) await postEvent(app, { name: 'second' })
    }
    t.equal((await app.inject('/events')).json().count, 1, 'the racing read loaded one event')
    app.cache.faults.beforeFill = undefined
    const next = await app.inject('/events')
    t.equal(next.json().count, 2)
    t.equal(next.headers['x-cache'], 'MISS')
  })

  t.test(`${mode}: 200 concurrent requests on a cold key cost one database load`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    await postEvent(app)
    let loads = 0
    app.cache.faults.beforeFill = async () => {
      loads++
      await sleep(100) // a slow load: everyone else arrives while it runs
    }
    const responses = await Promise.all(Array.from({ length: 200 }, () => app.inject('/events')))
    t.equal(loads, 1, 'one load')
    t.equal(queries(responses), 1, 'one query in all')
    t.ok(responses.every((response) => response.statusCode === 200), 'all 200')
    t.equal(new Set(responses.map((response) => response.body)).size, 1, 'identical bodies')
    t.ok(responses.every((response) => response.headers['x-cache'] === 'MISS'),
      'all were misses served by the one load')
    t.equal((await app.inject('/events')).headers['x-cache'], 'HIT')
  })

  t.test(`${mode}: a failed load fails all its waiters with the same error, is not cached, ` +
    'and is retried', async (t) => {
    const database = await createTestDatabase(t)
    const app = await buildTestApp(t, { DATABASE_URL: database, ...await cacheEnv(t, mode) })
    const event = await postEvent(app)
    let pending: Array<Promise<{ statusCode: number, body: string, headers: Record<string, unknown> }>> = []
    await withClient(database, async (client) => {
      // Hold the table so every request queues behind one load, then break the load for real.
      await client.query('BEGIN')
      await client.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE')
      pending = Array.from({ length: 50 }, () => app.inject(`/events/${event.id}`))
      await sleep(300)
      await client.query('ALTER TABLE events RENAME COLUMN location TO place')
      await client.query('COMMIT')
    })
    const failed = await Promise.all(pending)
    t.ok(failed.every((response) => response.statusCode === 500), 'all 500')
    t.equal(new Set(failed.map((response) => response.body)).size, 1, 'the same error for all')
    t.equal(queries(failed), 1, 'one failed query in all')

    await withClient(database, (client) => client.query('ALTER TABLE events RENAME COLUMN place TO location'))
    const retried = await app.inject(`/events/${event.id}`)
    t.equal(retried.statusCode, 200, 'the failure was not cached')
    t.equal(retried.headers['x-cache'], 'MISS')
    t.equal((await app.inject(`/events/${event.id}`)).headers['x-cache'], 'HIT')
  })

  t.test(`${mode}: a request after a write never joins a load that started before it`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    const event = await postEvent(app, { name: 'old' })
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    let fills = 0
    app.cache.faults.beforeFill = async () => {
      if (fills++ === 0) await gate
    }
    const early = app.inject(`/events/${event.id}`) // loads 'old', then waits at the gate
    await sleep(50)
    await patchEvent(t, app, event.id, { name: 'new' })
    const late = await app.inject(`/events/${event.id}`)
    t.equal(late.json().name, 'new', 'the read after the write started its own load')
    release()
    t.equal((await early).json().name, 'old')
  })
}
