import { brotliDecompressSync } from 'node:zlib'
import t from 'tap'
import { buildTestApp, type TestApp } from '../support/app.ts'
import { CACHE_TEST_MODES, cacheEnv } from '../support/cache-modes.ts'
import { createTestDatabase } from '../support/database.ts'
import { postEvent, postGuest } from '../support/fixtures.ts'

interface Fixture { A: number, B: number, a1: number, a2: number, b1: number }

/** Every cached view of the fixture, by name. */
function views (f: Fixture): Record<string, string> {
  return {
    'events list': '/events',
    'events page 2': '/events?limit=1&offset=1',
    'event A': `/events/${f.A}`,
    'event B': `/events/${f.B}`,
    'guests of A': `/events/${f.A}/guests`,
    'guests of A page 1': `/events/${f.A}/guests?limit=1`,
    'guests of B': `/events/${f.B}/guests`,
    'guests list': '/guests',
    'guests page 2': '/guests?limit=2&offset=1',
    'guest a1': `/guests/${f.a1}`,
    'guest a2': `/guests/${f.a2}`,
    'guest b1': `/guests/${f.b1}`
  }
}

const GUEST_LISTS = ['guests list', 'guests page 2']

interface WriteCase {
  write: string
  request: (f: Fixture) => { method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object }
  /** What the write answers. */
  status: 200 | 201 | 204
  /** The views this write must make MISS; every other view must stay a HIT. */
  affected: string[]
}

/** The views that embed event A: its detail, its guest lists and its guests. */
const EVENT_A_VIEWS = ['event A', 'guests of A', 'guests of A page 1', 'guest a1', 'guest a2']

const cases: WriteCase[] = [
  {
    write: 'POST /events',
    request: () => ({ method: 'POST', url: '/events', payload: { name: 'C', date: '2022-01-01', location: 'Lisbon' } }),
    status: 201,
    affected: ['events list', 'events page 2']
  },
  {
    write: 'PATCH /events/:id',
    request: (f) => ({ method: 'PATCH', url: `/events/${f.A}`, payload: { name: 'A renamed' } }),
    status: 200,
    affected: ['events list', 'events page 2', ...EVENT_A_VIEWS, ...GUEST_LISTS]
  },
  {
    write: 'PUT /events/:id',
    request: (f) => ({
      method: 'PUT',
      url: `/events/${f.A}`,
      payload: { name: 'A replaced', date: '2023-03-03', location: 'Oslo' }
    }),
    status: 200,
    affected: ['events list', 'events page 2', ...EVENT_A_VIEWS, ...GUEST_LISTS]
  },
  {
    write: 'DELETE /events/:id (cascades to its guests)',
    request: (f) => ({ method: 'DELETE', url: `/events/${f.A}` }),
    status: 204,
    affected: ['events list', 'events page 2', ...EVENT_A_VIEWS, ...GUEST_LISTS]
  },
  {
    write: 'POST /guests',
    request: (f) => ({
      method: 'POST',
      url: '/guests',
      payload: { event_id: f.B, name: 'b2', email: 'b2@example.com' }
    }),
    status: 201,
    affected: [...GUEST_LISTS, 'guests of B']
  },
  {
    write: 'PATCH /guests/:id',
    request: (f) => ({ method: 'PATCH', url: `/guests/${f.a1}`, payload: { email: 'new@example.com' } }),
    status: 200,
    affected: [...GUEST_LISTS, 'guest a1', 'guests of A', 'guests of A page 1']
  },
  {
    write: 'PATCH /guests/:id moving it to another event',
    request: (f) => ({ method: 'PATCH', url: `/guests/${f.a1}`, payload: { event_id: f.B } }),
    status: 200,
    affected: [...GUEST_LISTS, 'guest a1', 'guests of A', 'guests of A page 1', 'guests of B']
  },
  {
    write: 'PUT /guests/:id',
    request: (f) => ({
      method: 'PUT',
      url: `/guests/${f.b1}`,
      payload: { event_id: f.B, name: 'b1 replaced', email: 'b1@example.com' }
    }),
    status: 200,
    affected: [...GUEST_LISTS, 'guest b1', 'guests of B']
  },
  {
    write: 'DELETE /guests/:id',
    request: (f) => ({ method: 'DELETE', url: `/guests/${f.a2}` }),
    status: 204,
    affected: [...GUEST_LISTS, 'guest a2', 'guests of A', 'guests of A page 1']
  }
]

/** Long enough that every view of an event is stored compressed too (short bodies are identity only). */
const DESCRIPTION = 'A conference about caches and the writes that make them wrong. '.repeat(24)

async function fixture (app: TestApp): Promise<Fixture> {
  const A = (await postEvent(app, { name: 'A', description: DESCRIPTION })).id
  const B = (await postEvent(app, { name: 'B', description: DESCRIPTION })).id
  const a1 = (await postGuest(app, A, { name: 'a1' })).id
  const a2 = (await postGuest(app, A, { name: 'a2' })).id
  const b1 = (await postGuest(app, B, { name: 'b1' })).id
  return { A, B, a1, a2, b1 }
}

/** The identity bytes of a response, whatever coding it was sent in. */
function identityOf (response: { rawPayload: Buffer, headers: Record<string, unknown> }): string {
  const coded = response.headers['content-encoding'] === 'br'
  return (coded ? brotliDecompressSync(response.rawPayload) : response.rawPayload).toString()
}

for (const mode of CACHE_TEST_MODES) {
  for (const acceptEncoding of ['identity', 'br']) {
    t.test(`${mode}, Accept-Encoding: ${acceptEncoding}: every write × every cached view — affected views MISS ` +
      'with the new state, the rest stay HIT', async (t) => {
      const headers = { 'accept-encoding': acceptEncoding }
      for (const { write, request, status, affected } of cases) {
        t.ok(affected.every((name) => name in views({ A: 1, B: 2, a1: 1, a2: 2, b1: 3 })), `${write}: known views`)
        const database = await createTestDatabase(t)
        const env = await cacheEnv(t, mode)
        const app = await buildTestApp(t, { DATABASE_URL: database, ...env })
        // The truth: the same database with no cache at all.
        const truth = await buildTestApp(t, { DATABASE_URL: database, CACHE_MODE: 'off' })
        const f = await fixture(app)
        const all = views(f)

        for (const [name, url] of Object.entries(all)) {
          await app.inject({ url, headers })
          const warm = await app.inject({ url, headers })
          t.equal(warm.headers['x-cache'], 'HIT', `${write}: ${name} is warm before the write`)
          if (acceptEncoding === 'br') {
            t.equal(warm.headers['content-encoding'], 'br', `${write}: ${name} is sent as br`)
          }
        }

        const response = await app.inject(request(f))
        t.equal(response.statusCode, status, `${write} answers ${status}`)

        for (const [name, url] of Object.entries(all)) {
          const cached = await app.inject({ url, headers })
          const fresh = await truth.inject(url)
          const expected = affected.includes(name) ? 'MISS' : 'HIT'
          t.equal(cached.headers['x-cache'], expected, `${write}: ${name} is a ${expected}`)
          t.equal(cached.statusCode, fresh.statusCode, `${write}: ${name} has the current status`)
          t.equal(identityOf(cached), fresh.body, `${write}: ${name} has the current body`)
        }
      }
    })
  }
}
