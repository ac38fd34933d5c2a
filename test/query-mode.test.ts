import t from 'tap'
import { buildTestApp } from './support/app.ts'
import { createTestDatabase } from './support/database.ts'
import { postEvent, postGuest } from './support/fixtures.ts'

t.test('QUERY_MODE=join and naive answer byte-identical bodies at 1 vs 1 + N queries', async (t) => {
  const database = await createTestDatabase(t)
  const join = await buildTestApp(t, { DATABASE_URL: database, QUERY_MODE: 'join', CACHE_MODE: 'off' })
  const naive = await buildTestApp(t, { DATABASE_URL: database, QUERY_MODE: 'naive', CACHE_MODE: 'off' })

  const events = []
  for (let i = 0; i < 4; i++) events.push(await postEvent(join, { name: `event ${i}` }))
  let guestId = 0
  for (let i = 0; i < 12; i++) guestId = (await postGuest(join, events[i % 4]!.id, { name: `guest ${i}` })).id

  const cases: Array<[string, number]> = [
    ['/guests', 12],
    ['/guests?limit=5&offset=3', 5],
    ['/guests?offset=100', 0],
    [`/events/${events[1]!.id}/guests`, 3],
    [`/events/${events[1]!.id}/guests?limit=2`, 2],
    [`/guests/${guestId}`, 1]
  ]
  for (const [url, rows] of cases) {
    const joined = await join.inject(url)
    const lazy = await naive.inject(url)
    t.equal(joined.statusCode, 200, url)
    t.equal(lazy.body, joined.body, `${url}: byte-identical bodies`)
    t.equal(joined.headers['x-db-queries'], '1', `${url}: join makes one query`)
    t.equal(lazy.headers['x-db-queries'], String(1 + rows), `${url}: naive makes 1 + ${rows}`)
  }

  const full = await naive.inject('/guests?limit=100')
  t.equal(full.headers['x-db-queries'], '13', '1 + page size')
})

t.test('event routes make exactly one query whatever the mode', async (t) => {
  const app = await buildTestApp(t, { QUERY_MODE: 'naive', CACHE_MODE: 'off' })
  const event = await postEvent(app)
  for (const url of ['/events', `/events/${event.id}`]) {
    t.equal((await app.inject(url)).headers['x-db-queries'], '1', url)
  }
  const missing = await app.inject(`/events/${event.id + 1}/guests`)
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers['x-db-queries'], '1', 'a missing event is found out in the same single query')
})

t.test('every response reports its database work in X-DB-Queries and Server-Timing', async (t) => {
  const app = await buildTestApp(t)
  const payload = { name: 'a', date: '2020-01-01', location: 'b' }
  const created = await app.inject({ method: 'POST', url: '/events', payload })
  t.equal(created.headers['x-db-queries'], '1')
  t.match(created.headers['server-timing'], /^db;dur=\d+\.\d{2}$/)
  const refused = await app.inject({ method: 'POST', url: '/events', payload: { name: '' } })
  t.equal(refused.headers['x-db-queries'], '0', 'a refused request never reaches the database')
})
