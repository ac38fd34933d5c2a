import fc from 'fast-check'
import t, { type Test } from 'tap'
import { CreateEventSchema, UpdateEventSchema } from '../../src/schemas/events.ts'
import { CreateGuestSchema, UpdateGuestSchema } from '../../src/schemas/guests.ts'
import { buildTestApp, type TestApp } from '../support/app.ts'
import { countRows } from '../support/database.ts'
import { invalid, type Schema, valid } from '../support/schema-arbitraries.ts'

/** Runs per property: a few hundred in CI; FUZZ_RUNS=10000 for a long session. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 200)

/** Responses by status class, printed by each test: the figures of the run. */
const seen = new Map<string, number>()
function count (status: number): void {
  const kind = `${Math.floor(status / 100)}xx`
  seen.set(kind, (seen.get(kind) ?? 0) + 1)
}
function figures (t: Test): void {
  const responses = [...seen].sort().map(([kind, n]) => `${kind} ${n}`).join(', ')
  t.comment(`fuzz: ${RUNS} runs per property; responses ${responses}`)
  seen.clear()
}

type Method = 'POST' | 'PUT' | 'PATCH' | 'GET' | 'DELETE'

async function json (app: TestApp, method: Method, url: string, payload?: unknown) {
  const response = await app.inject({ method, url, ...(payload !== undefined && { payload: payload as object }) })
  count(response.statusCode)
  return { status: response.statusCode, body: response.body === '' ? undefined : response.json() }
}

/** POST `body` to `url`: the id created, or a throw naming what was sent and what came back. */
async function createdId (app: TestApp, url: string, body: unknown): Promise<number> {
  const response = await json(app, 'POST', url, body)
  if (response.status !== 201) {
    throw new Error(`POST ${url} ${JSON.stringify(body)} → ${response.status} ${JSON.stringify(response.body)}`)
  }
  return response.body.id as number
}

/** The stored event shows exactly what was sent (a date as the same instant). */
function sameEvent (stored: Record<string, unknown>, sent: Record<string, unknown>): boolean {
  return Object.entries(sent).every(([field, value]) => field === 'date'
    ? Date.parse(stored.date as string) === Date.parse(value as string)
    : stored[field] === value)
}

t.test('fuzz: valid event and guest writes are readable back identically, and never 5xx', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_WRITES: '1000000' })
  const anchor = await createdId(app, '/events', { name: 'anchor', date: '2020-01-01', location: 'x' })

  await fc.assert(fc.asyncProperty(valid(CreateEventSchema as Schema), async (event) => {
    const read = await json(app, 'GET', `/events/${await createdId(app, '/events', event)}`)
    return read.status === 200 && sameEvent(read.body, { description: '', ...event as object })
  }), { numRuns: RUNS })

  await fc.assert(fc.asyncProperty(valid(UpdateEventSchema as Schema), async (changes) => {
    const patched = await json(app, 'PATCH', `/events/${anchor}`, changes)
    if (patched.status !== 200) throw new Error(`PATCH ${JSON.stringify(changes)} → ${patched.status}`)
    return sameEvent((await json(app, 'GET', `/events/${anchor}`)).body, changes as Record<string, unknown>)
  }), { numRuns: RUNS })

  await fc.assert(fc.asyncProperty(valid(CreateGuestSchema as Schema), async (guest) => {
    const body = { ...guest as { name: string, email: string }, event_id: anchor }
    const read = (await json(app, 'GET', `/guests/${await createdId(app, '/guests', body)}`)).body
    return read.name === body.name && read.email === body.email && read.event.id === anchor
  }), { numRuns: RUNS })

  const guest = await createdId(app, '/guests', { event_id: anchor, name: 'g', email: 'g@example.com' })
  await fc.assert(fc.asyncProperty(valid(UpdateGuestSchema as Schema), async (changes) => {
    const body = { ...changes as object, ...('event_id' in (changes as object) && { event_id: anchor }) }
    const patched = await json(app, 'PATCH', `/guests/${guest}`, body)
    if (patched.status !== 200) throw new Error(`PATCH /guests ${JSON.stringify(body)} → ${patched.status}`)
    const read = (await json(app, 'GET', `/guests/${guest}`)).body
    return Object.entries(body).every(([field, value]) =>
      field === 'event_id' ? read.event.id === value : read[field] === value)
  }), { numRuns: RUNS })
  figures(t)
})

t.test('fuzz: every invalid body is a 400 naming the field, and writes nothing', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_WRITES: '1000000' })
  const anchor = await createdId(app, '/events', { name: 'anchor', date: '2020-01-01', location: 'x' })
  const guest = await createdId(app, '/guests', { event_id: anchor, name: 'g', email: 'g@example.com' })
  const rows = await countRows(app)
  const targets = [
    { method: 'POST', url: '/events', schema: CreateEventSchema },
    { method: 'PUT', url: `/events/${anchor}`, schema: CreateEventSchema },
    { method: 'PATCH', url: `/events/${anchor}`, schema: UpdateEventSchema },
    { method: 'POST', url: '/guests', schema: CreateGuestSchema },
    { method: 'PUT', url: `/guests/${guest}`, schema: CreateGuestSchema },
    { method: 'PATCH', url: `/guests/${guest}`, schema: UpdateGuestSchema }
  ] as const
  for (const { method, url, schema } of targets) {
    await fc.assert(fc.asyncProperty(invalid(schema as Schema), async ({ body, field, describe }) => {
      const response = await json(app, method, url, body)
      const message = String(response.body?.message)
      if (response.status !== 400 || !message.includes(field)) {
        throw new Error(`${method} ${url} ${describe}: ${response.status} ${message}`)
      }
      return true
    }), { numRuns: RUNS })
    await fc.assert(fc.asyncProperty(fc.jsonValue(), async (body) => {
      const headers = { 'content-type': 'application/json' }
      const response = await app.inject({ method, url, headers, payload: JSON.stringify(body) })
      count(response.statusCode)
      return response.statusCode === 400 || (response.statusCode < 300 && typeof body === 'object')
    }), { numRuns: RUNS })
  }
  const after = await countRows(app)
  t.same(after, rows, 'no row added by any rejected body')
  figures(t)
})

t.test('fuzz: any id, limit and offset: 200, 404 or a 400 naming the parameter; never 5xx', async (t) => {
  const app = await buildTestApp(t)
  await json(app, 'POST', '/events', { name: 'e', date: '2020-01-01', location: 'x' })
  const anything = fc.oneof(
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.double(),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('', '0x10', '1e3', ' 1', 'null', '[]')
  )
  const routes = fc.constantFrom('/events/', '/guests/', '/events/%s/guests')
  await fc.assert(fc.asyncProperty(anything, routes, async (id, route) => {
    const encoded = encodeURIComponent(String(id))
    const url = route.includes('%s') ? route.replace('%s', encoded) : route + encoded
    const response = await json(app, 'GET', url)
    if (response.status >= 500) throw new Error(`GET ${url} → ${response.status}`)
    return [200, 404].includes(response.status) || (response.status === 400 && /params\/id/.test(response.body.message))
  }), { numRuns: RUNS })
  await fc.assert(fc.asyncProperty(anything, anything, async (limit, offset) => {
    const url = `/events?limit=${encodeURIComponent(String(limit))}&offset=${encodeURIComponent(String(offset))}`
    const response = await json(app, 'GET', url)
    if (response.status >= 500) throw new Error(`GET ${url} → ${response.status}`)
    const namesTheParameter = /querystring\/(limit|offset)/.test(response.body?.message)
    return response.status === 200 || (response.status === 400 && namesTheParameter)
  }), { numRuns: RUNS })
  figures(t)
})
