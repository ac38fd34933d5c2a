import t from 'tap'
import { BODY_LIMIT } from '../src/app.ts'
import { buildTestApp } from './support/app.ts'
import { countRows } from './support/database.ts'
import { eventInput, postEvent } from './support/fixtures.ts'

t.test('the article\'s walk-through: create twelve events, list them, page through them', async (t) => {
  const app = await buildTestApp(t)
  for (let i = 1; i <= 12; i++) await postEvent(app, { name: `DjangoCon US 20${10 + i}` })

  const all = await app.inject('/events/')
  t.equal(all.statusCode, 200)
  const page = all.json()
  t.equal(page.count, 12)
  t.equal(page.results.length, 12)
  const names = Array.from({ length: 12 }, (_, i) => `DjangoCon US 20${11 + i}`)
  t.same(page.results.map((event: { name: string }) => event.name), names, 'in id order')
  t.equal(page.next, null)
  t.equal(page.previous, null)

  const second = (await app.inject('/events?limit=5&offset=5')).json()
  t.same(second.results.map((event: { id: number }) => event.id), [6, 7, 8, 9, 10])
  t.equal(second.next, 'http://api.test/events?limit=5&offset=10')
  t.equal(second.previous, 'http://api.test/events?limit=5', 'the first page drops offset, as DRF does')

  const last = (await app.inject(second.next.replace('http://api.test', ''))).json()
  t.same(last.results.map((event: { id: number }) => event.id), [11, 12])
  t.equal(last.next, null)
  t.equal(last.previous, 'http://api.test/events?limit=5&offset=5')
})

t.test('POST /events answers 201 with the event and a Location header', async (t) => {
  const app = await buildTestApp(t)
  const response = await app.inject({ method: 'POST', url: '/events', payload: eventInput() })
  t.equal(response.statusCode, 201)
  const event = response.json()
  t.equal(response.headers.location, `/events/${event.id}`)
  t.match(event, {
    id: Number,
    name: 'DjangoCon US 2020',
    date: '2020-07-15T00:00:00.000Z',
    location: 'San Diego, CA',
    description: 'DjangoCon US is the annual conference for the Django community.'
  })
  t.match(event.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.equal(event.created_at, event.updated_at)
  t.same(Object.keys(event), ['id', 'name', 'date', 'location', 'description', 'created_at', 'updated_at'])

  const fetched = await app.inject(`/events/${event.id}`)
  t.equal(fetched.statusCode, 200)
  t.same(fetched.json(), event)
})

t.test('date accepts a plain YYYY-MM-DD (midnight UTC) and any RFC 3339 date-time', async (t) => {
  const app = await buildTestApp(t)
  const cases: Array<[string, string]> = [
    ['2020-07-15', '2020-07-15T00:00:00.000Z'],
    ['2020-07-15T09:30:00Z', '2020-07-15T09:30:00.000Z'],
    ['2020-07-15T09:30:00.250+02:00', '2020-07-15T07:30:00.250Z'],
    ['2020-07-15t09:30:00-05:00', '2020-07-15T14:30:00.000Z']
  ]
  for (const [input, stored] of cases) {
    const event = await postEvent(app, { date: input })
    t.equal(event.date, stored, input)
  }
})

t.test('description is optional on create and empty by default', async (t) => {
  const app = await buildTestApp(t)
  const { name, date, location } = eventInput()
  const response = await app.inject({ method: 'POST', url: '/events', payload: { name, date, location } })
  t.equal(response.statusCode, 201)
  t.equal(response.json().description, '')
  t.equal((await app.inject(`/events/${response.json().id}`)).json().description, '', 'and stored empty')
})

t.test('invalid events are refused with a 400 naming the field, and nothing is written', async (t) => {
  const app = await buildTestApp(t)
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing name', { ...eventInput(), name: undefined }, /body must have required property 'name'/],
    ['empty name', eventInput({ name: '' }), /body\/name must NOT have fewer than 1 characters/],
    ['name too long', eventInput({ name: 'x'.repeat(256) }), /body\/name must NOT have more than 255 characters/],
    ['name not a string', eventInput({ name: 42 }), /body\/name must be string/],
    ['missing date', { ...eventInput(), date: undefined }, /body must have required property 'date'/],
    [
      'date not a date',
      eventInput({ date: 'next tuesday' }),
      /body\/date must be an RFC 3339 date-time from .* or must be a YYYY-MM-DD date from 0001-01-01 to 9999-12-31$/
    ],
    ['impossible date', eventInput({ date: '2020-02-30' }), /body\/date /],
    ['date-time without zone', eventInput({ date: '2020-07-15T09:30:00' }), /body\/date /],
    ['empty location', eventInput({ location: '' }), /body\/location must NOT have fewer than 1 characters/],
    ['location too long', eventInput({ location: 'x'.repeat(256) }), /body\/location must NOT have more than 255/],
    ['description not a string', eventInput({ description: null }), /body\/description must be string/],
    ['unknown property', eventInput({ id: 7 }), /body\/id is not allowed/],
    ['misspelt property', { ...eventInput(), locaton: 'Berlin' }, /body\/locaton is not allowed/],
    ['not an object', [eventInput()], /body must be object/]
  ]
  for (const [name, payload, message] of cases) {
    const response = await app.inject({ method: 'POST', url: '/events', payload: payload as object })
    t.equal(response.statusCode, 400, name)
    t.match(response.json(), { statusCode: 400, error: 'Bad Request', message }, name)
  }
  t.same(await countRows(app), { events: 0, guests: 0 })
})

t.test('malformed and oversized bodies are refused before any work', async (t) => {
  const app = await buildTestApp(t)
  const json = { 'content-type': 'application/json' }
  const broken = await app.inject({ method: 'POST', url: '/events', headers: json, payload: '{"name": ' })
  t.equal(broken.statusCode, 400)
  const huge = await app.inject({
    method: 'POST',
    url: '/events',
    payload: eventInput({ description: 'x'.repeat(BODY_LIMIT) })
  })
  t.equal(huge.statusCode, 413)
  const poisoned = await app.inject({
    method: 'POST',
    url: '/events',
    headers: json,
    payload: '{"name":"a","date":"2020-07-15","location":"b","__proto__":{"admin":true}}'
  })
  t.equal(poisoned.statusCode, 400)
  const text = await app.inject({
    method: 'POST',
    url: '/events',
    headers: { 'content-type': 'text/plain' },
    payload: 'hello'
  })
  t.equal(text.statusCode, 415)
  t.same(await countRows(app), { events: 0, guests: 0 })
})

t.test('GET, PUT, PATCH and DELETE on an unknown id answer 404 naming it', async (t) => {
  const app = await buildTestApp(t)
  const requests = [
    { method: 'GET', url: '/events/999' },
    { method: 'PUT', url: '/events/999', payload: eventInput() },
    { method: 'PATCH', url: '/events/999', payload: { name: 'x' } },
    { method: 'DELETE', url: '/events/999' },
    { method: 'GET', url: '/events/999/guests' }
  ] as const
  for (const request of requests) {
    const response = await app.inject(request)
    t.equal(response.statusCode, 404, `${request.method} ${request.url}`)
    t.same(response.json(), {
      statusCode: 404,
      code: 'EC_NOT_FOUND',
      error: 'Not Found',
      message: 'event 999 not found'
    })
  }
})

t.test('ids must be positive integers that PostgreSQL can hold', async (t) => {
  const app = await buildTestApp(t)
  // Infinity and 1e400: Ajv's coercion lets them past `integer` and the range (found by the fuzzer).
  for (const id of ['abc', '0', '-1', '1.5', '2147483648', '99999999999999999999', 'Infinity', '-Infinity', '1e400']) {
    const response = await app.inject(`/events/${id}`)
    t.equal(response.statusCode, 400, id)
    t.match(response.json().message, /^params\/id /, id)
  }
  t.equal((await app.inject('/events/2147483647')).statusCode, 404, 'the largest id is a plain miss')
})

t.test('PATCH changes only the fields sent; PUT replaces the event', async (t) => {
  const app = await buildTestApp(t)
  const created = await postEvent(app)

  const url = `/events/${created.id}`
  const patched = await app.inject({ method: 'PATCH', url, payload: { location: 'Berlin, Germany' } })
  t.equal(patched.statusCode, 200)
  t.match(patched.json(), {
    id: created.id,
    name: 'DjangoCon US 2020',
    location: 'Berlin, Germany',
    date: '2020-07-15T00:00:00.000Z'
  })
  t.equal(patched.json().description, eventInput().description, 'PATCH leaves description alone')

  const replacement = { name: 'PyCon', date: '2021-05-12', location: 'Pittsburgh, PA' }
  const put = await app.inject({ method: 'PUT', url, payload: replacement })
  t.equal(put.statusCode, 200)
  t.match(put.json(), {
    id: created.id,
    name: 'PyCon',
    date: '2021-05-12T00:00:00.000Z',
    location: 'Pittsburgh, PA',
    description: ''
  })

  t.same((await app.inject(url)).json(), put.json(), 'the change is stored')
})

t.test('updated_at moves on every update; created_at never does', async (t) => {
  const app = await buildTestApp(t)
  const created = await postEvent(app)
  await new Promise((resolve) => setTimeout(resolve, 5))
  const response = await app.inject({ method: 'PATCH', url: `/events/${created.id}`, payload: { name: 'renamed' } })
  t.equal(response.statusCode, 200)
  const patched = response.json()
  t.equal(patched.created_at, created.created_at)
  t.ok(patched.updated_at > created.updated_at, `${patched.updated_at} > ${created.updated_at}`)
})

t.test('invalid updates are refused and change nothing', async (t) => {
  const app = await buildTestApp(t)
  const created = await postEvent(app)
  const cases = [
    { method: 'PATCH', payload: {}, message: /body must NOT have fewer than 1 properties/ },
    { method: 'PATCH', payload: { name: '' }, message: /body\/name must NOT have fewer than 1 characters/ },
    { method: 'PATCH', payload: { created_at: '2020-01-01T00:00:00Z' }, message: /body\/created_at is not allowed/ },
    { method: 'PUT', payload: { name: 'only a name' }, message: /body must have required property 'date'/ },
    { method: 'PUT', payload: eventInput({ date: 'soon' }), message: /body\/date/ }
  ] as const
  for (const { method, payload, message } of cases) {
    const response = await app.inject({ method, url: `/events/${created.id}`, payload })
    t.equal(response.statusCode, 400, `${method} ${JSON.stringify(payload)}`)
    t.match(response.json().message, message)
  }
  t.same((await app.inject(`/events/${created.id}`)).json(), created)
})

t.test('DELETE answers 204 with no body, and the event is gone', async (t) => {
  const app = await buildTestApp(t)
  const created = await postEvent(app)
  const response = await app.inject({ method: 'DELETE', url: `/events/${created.id}` })
  t.equal(response.statusCode, 204)
  t.equal(response.body, '')
  t.equal((await app.inject(`/events/${created.id}`)).statusCode, 404)
  const again = await app.inject({ method: 'DELETE', url: `/events/${created.id}` })
  t.equal(again.statusCode, 404, 'a second delete finds nothing')
})

t.test('every route answers with or without a trailing slash', async (t) => {
  const app = await buildTestApp(t)
  const created = await postEvent(app)
  const event = `/events/${created.id}`
  for (const url of ['/events', '/events/', event, `${event}/`, `${event}/guests`, `${event}/guests/`]) {
    t.equal((await app.inject(url)).statusCode, 200, url)
  }
  const posted = await app.inject({ method: 'POST', url: '/events/', payload: eventInput() })
  t.equal(posted.statusCode, 201, 'POST /events/')
})
