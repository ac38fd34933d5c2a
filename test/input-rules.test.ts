// What the API refuses before PostgreSQL would: text it cannot store, dates outside what it stores
// or the API can answer as RFC 3339, and bodies past the longest a schema accepts. Every refusal is
// a 400 naming the field, and writes nothing; the values at the edge of each rule are stored.
import pg from 'pg'
import t from 'tap'
import { BODY_LIMIT } from '../src/app.ts'
import { refusedInput } from '../src/errors.ts'
import { buildTestApp } from './support/app.ts'
import { countRows, createTestDatabase } from './support/database.ts'
import { eventInput, postEvent, postGuest } from './support/fixtures.ts'

const UNSTORABLE_TEXT = [['NUL', 'a\u0000b'], ['an unpaired surrogate', 'a\ud800b'], ['a lone low surrogate', '\udfff']]

t.test('text PostgreSQL cannot store is a 400 naming the field, on every write of events and guests', async (t) => {
  const app = await buildTestApp(t)
  const event = await postEvent(app)
  const guest = await postGuest(app, event.id)
  const before = await countRows(app)
  for (const [what, text] of UNSTORABLE_TEXT) {
    const writes = [
      ['POST', '/events', eventInput({ name: text }), 'name'],
      ['PUT', `/events/${event.id}`, eventInput({ location: text }), 'location'],
      ['PATCH', `/events/${event.id}`, { description: text }, 'description'],
      ['POST', '/guests', { event_id: event.id, name: text, email: 'a@example.com' }, 'name'],
      ['PATCH', `/guests/${guest.id}`, { name: text }, 'name']
    ] as const
    for (const [method, url, payload, field] of writes) {
      const response = await app.inject({ method, url, payload })
      t.equal(response.statusCode, 400, `${method} ${url} with ${what} in ${field}: 400`)
      t.match(response.json().message, new RegExp(`^body/${field} must not contain U\\+0000`), 'naming the field')
    }
  }
  t.same(await countRows(app), before, 'nothing was written')
  const unchanged = await app.inject(`/events/${event.id}`)
  t.equal(unchanged.json().name, event.name)
  const payload = { name: 'ok 😀 \ud83d\ude00' }
  const astral = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload })
  t.equal(astral.json().name, 'ok 😀 😀', 'a surrogate pair is one character, and stored')
})

t.test('dates: RFC 3339 within what PostgreSQL stores and the API answers is stored as the same instant', async (t) => {
  const app = await buildTestApp(t)
  const stored = {
    '2030-01-01T00:00:00+15:59': '2029-12-31T08:01:00.000Z',
    '2030-01-01T00:00:00-15:59': '2030-01-01T15:59:00.000Z',
    '0001-01-01': '0001-01-01T00:00:00.000Z',
    '0001-01-01T01:00:00+01:00': '0001-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59Z': '9999-12-31T23:59:59.000Z',
    '2016-12-31T23:59:60Z': '2017-01-01T00:00:00.000Z',
    '2030-01-01 12:00:00z': '2030-01-01T12:00:00.000Z'
  }
  for (const [date, instant] of Object.entries(stored)) {
    const created = await app.inject({ method: 'POST', url: '/events', payload: eventInput({ date }) })
    t.equal(created.statusCode, 201, `${date}: stored`)
    t.equal(created.json().date, instant, `${date}: as ${instant}`)
  }
})

t.test('dates PostgreSQL cannot store, or the API cannot answer in RFC 3339, are a 400 naming the field', async (t) => {
  const app = await buildTestApp(t)
  const event = await postEvent(app)
  const before = await countRows(app)
  const refused = [
    '2030-01-01T00:00:00+16:00', // PostgreSQL's offsets stop at ±15:59
    '2030-01-01T00:00:00-23:59',
    '2030-01-01T00:00:00+16',
    '0000-01-01', // there is no year 0
    '0000-12-31T23:00:00Z',
    '0001-01-01T00:00:00+01:00', // 0000-12-31T23:00Z
    '0000-12-31T20:00:00-05:00', // 0001-01-01T01:00Z, but PostgreSQL reads the year as written
    '9999-12-31T23:00:00-05:00', // 10000-01-01T04:00Z: no room in RFC 3339
    '2030-01-01\t00:00:00Z', // ajv-formats takes any whitespace as the separator, RFC 3339 a T or a space
    '2030-01-01\n00:00:00Z'
  ]
  for (const date of refused) {
    for (const [method, url, payload] of [
      ['POST', '/events', eventInput({ date })],
      ['PATCH', `/events/${event.id}`, { date }]
    ] as const) {
      const response = await app.inject({ method, url, payload })
      t.equal(response.statusCode, 400, `${method} ${date}: 400`)
      t.match(response.json().message, /^body\/date must be an RFC 3339 date-time from 0001-01-01T00:00:00Z/,
        'naming the field and the rule')
    }
  }
  t.same(await countRows(app), before, 'nothing was written')
})

t.test('the body limit is the longest valid body: that one is stored, a byte past the limit is a 413', async (t) => {
  const app = await buildTestApp(t)
  // Every character an astral one, written as the two escapes of its surrogate pair: 12 bytes of JSON.
  const escaped = (length: number) => '\\ud83d\\ude00'.repeat(length)
  const date = `2020-07-15T00:00:00.${'0'.repeat(38)}+00:00` // the longest a date may be: 64 characters
  const longest = `{"name":"${escaped(255)}","date":"${date}",` +
    `"location":"${escaped(255)}","description":"${escaped(10_000)}"}`
  t.ok(longest.length > 100_000 && longest.length <= BODY_LIMIT, `a valid body of ${longest.length} bytes`)
  const json = { 'content-type': 'application/json' }
  const created = await app.inject({ method: 'POST', url: '/events', headers: json, payload: longest })
  t.equal(created.statusCode, 201, 'is stored')
  t.equal(created.json().description.length, 20_000, 'all of it (10,000 characters, 20,000 UTF-16 units)')
  const before = await countRows(app)
  const over = await app.inject({
    method: 'POST', url: '/events', headers: json, payload: longest + ' '.repeat(BODY_LIMIT - longest.length + 1)
  })
  t.equal(over.statusCode, 413, 'a byte more is refused')
  t.same(await countRows(app), before, 'and writes nothing')
})

t.test('a data exception PostgreSQL raises on a write is a 400 naming the field it quotes, never a 500', async (t) => {
  const client = new pg.Client({ connectionString: await createTestDatabase(t) })
  await client.connect()
  t.teardown(() => client.end())
  const raised = await client.query("SELECT '0000-01-01'::timestamptz").catch((error: unknown) => error)
  const refused = refusedInput(raised, 'POST', { name: 'x', date: '0000-01-01' })
  t.equal(refused?.statusCode, 400)
  t.match(refused?.message, /^body\/date cannot be stored: /)
  t.equal(refusedInput(raised, 'GET', undefined), undefined, 'a read\'s is the server\'s')
  const other = await client.query('SELECT * FROM nowhere').catch((error: unknown) => error)
  t.equal(refusedInput(other, 'POST', {}), undefined, 'and so is any other error')
})
