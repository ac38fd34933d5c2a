import t from 'tap'
import { buildTestApp } from './support/app.ts'
import { countRows } from './support/database.ts'
import { postEvent, postGuest } from './support/fixtures.ts'

t.test('POST /guests answers 201 with the guest, its event nested, and a Location header', async (t) => {
  const app = await buildTestApp(t)
  const event = await postEvent(app, { name: 'PyCon', date: '2021-05-12', location: 'Pittsburgh, PA' })
  const response = await app.inject({
    method: 'POST',
    url: '/guests',
    payload: { event_id: event.id, name: 'Ada Lovelace', email: 'ada@example.com' }
  })
  t.equal(response.statusCode, 201)
  const guest = response.json()
  t.equal(response.headers.location, `/guests/${guest.id}`)
  t.same(Object.keys(guest), ['id', 'name', 'email', 'event', 'created_at', 'updated_at'])
  t.match(guest, { id: Number, name: 'Ada Lovelace', email: 'ada@example.com' })
  t.same(guest.event, event, 'the nested event is the event as GET /events/:id shows it')

  const fetched = await app.inject(`/guests/${guest.id}`)
  t.equal(fetched.statusCode, 200)
  t.same(fetched.json(), guest)
})

t.test('a guest for a missing event is a 400 naming event_id, and nothing is written', async (t) => {
  const app = await buildTestApp(t)
  const response = await app.inject({
    method: 'POST',
    url: '/guests',
    payload: { event_id: 4242, name: 'Ada', email: 'ada@example.com' }
  })
  t.equal(response.statusCode, 400)
  t.same(response.json(), {
    statusCode: 400,
    code: 'EC_UNKNOWN_EVENT',
    error: 'Bad Request',
    message: 'body/event_id refers to event 4242, which does not exist'
  })
  t.same(await countRows(app), { events: 0, guests: 0 })
})

t.test('invalid guests are refused with a 400 naming the field, and nothing is written', async (t) => {
  const app = await buildTestApp(t)
  const event = await postEvent(app)
  const valid = { event_id: event.id, name: 'Ada', email: 'ada@example.com' }
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing event_id', { ...valid, event_id: undefined }, /body must have required property 'event_id'/],
    ['event_id not an integer', { ...valid, event_id: 'one' }, /body\/event_id must be integer/],
    ['event_id as a numeric string', { ...valid, event_id: String(event.id) }, /body\/event_id must be integer/],
    ['event_id zero', { ...valid, event_id: 0 }, /body\/event_id must be >= 1/],
    ['event_id beyond integer', { ...valid, event_id: 2 ** 31 }, /body\/event_id must be <= 2147483647/],
    ['missing name', { ...valid, name: undefined }, /body must have required property 'name'/],
    ['empty name', { ...valid, name: '' }, /body\/name must NOT have fewer than 1 characters/],
    ['bad email', { ...valid, email: 'not-an-email' }, /body\/email must match format "email"/],
    ['missing email', { ...valid, email: undefined }, /body must have required property 'email'/],
    ['nested event instead of event_id', { ...valid, event: { id: event.id } }, /body\/event is not allowed/]
  ]
  for (const [name, payload, message] of cases) {
    const response = await app.inject({ method: 'POST', url: '/guests', payload: payload as object })
    t.equal(response.statusCode, 400, name)
    t.match(response.json().message, message, name)
  }
  t.same(await countRows(app), { events: 1, guests: 0 })
})

t.test('PATCH moves a guest to another event, PUT replaces it, and a missing event is refused', async (t) => {
  const app = await buildTestApp(t)
  const first = await postEvent(app, { name: 'First' })
  const second = await postEvent(app, { name: 'Second' })
  const guest = await postGuest(app, first.id)

  const moved = await app.inject({ method: 'PATCH', url: `/guests/${guest.id}`, payload: { event_id: second.id } })
  t.equal(moved.statusCode, 200)
  t.match(moved.json(), { id: guest.id, name: 'Ada Lovelace', event: { id: second.id, name: 'Second' } })

  const put = await app.inject({
    method: 'PUT',
    url: `/guests/${guest.id}`,
    payload: { event_id: first.id, name: 'Grace Hopper', email: 'grace@example.com' }
  })
  t.equal(put.statusCode, 200)
  t.match(put.json(), { id: guest.id, name: 'Grace Hopper', email: 'grace@example.com', event: { id: first.id } })

  const nowhere = await app.inject({ method: 'PATCH', url: `/guests/${guest.id}`, payload: { event_id: 9999 } })
  t.equal(nowhere.statusCode, 400)
  t.match(nowhere.json().message, /^body\/event_id /)
  t.same((await app.inject(`/guests/${guest.id}`)).json(), put.json(), 'the refused move changed nothing')

  const partialPut = await app.inject({ method: 'PUT', url: `/guests/${guest.id}`, payload: { name: 'x' } })
  t.equal(partialPut.statusCode, 400, 'PUT needs the whole guest')
})

t.test('unknown guest ids answer 404 naming the guest', async (t) => {
  const app = await buildTestApp(t)
  const event = await postEvent(app)
  const requests = [
    { method: 'GET', url: '/guests/77' },
    { method: 'PATCH', url: '/guests/77', payload: { name: 'x' } },
    { method: 'PUT', url: '/guests/77', payload: { event_id: event.id, name: 'x', email: 'x@example.com' } },
    { method: 'DELETE', url: '/guests/77' }
  ] as const
  for (const request of requests) {
    const response = await app.inject(request)
    t.equal(response.statusCode, 404, `${request.method} ${request.url}`)
    t.equal(response.json().message, 'guest 77 not found')
  }
})

t.test('DELETE /guests/:id answers 204 and removes only that guest', async (t) => {
  const app = await buildTestApp(t)
  const event = await postEvent(app)
  const kept = await postGuest(app, event.id, { name: 'Kept' })
  const removed = await postGuest(app, event.id, { name: 'Removed' })
  const response = await app.inject({ method: 'DELETE', url: `/guests/${removed.id}/` })
  t.equal(response.statusCode, 204)
  t.equal(response.body, '')
  t.equal((await app.inject(`/guests/${removed.id}`)).statusCode, 404)
  t.equal((await app.inject(`/guests/${kept.id}`)).statusCode, 200)
  t.same(await countRows(app), { events: 1, guests: 1 })
})

t.test('deleting an event deletes its guests (ON DELETE CASCADE)', async (t) => {
  const app = await buildTestApp(t)
  const doomed = await postEvent(app, { name: 'Doomed' })
  const other = await postEvent(app, { name: 'Other' })
  const guests = [await postGuest(app, doomed.id), await postGuest(app, doomed.id, { name: 'Two' })]
  const survivor = await postGuest(app, other.id)

  t.equal((await app.inject({ method: 'DELETE', url: `/events/${doomed.id}` })).statusCode, 204)
  for (const guest of guests) t.equal((await app.inject(`/guests/${guest.id}`)).statusCode, 404)
  t.equal((await app.inject(`/guests/${survivor.id}`)).statusCode, 200)
  const list = (await app.inject('/guests')).json()
  t.equal(list.count, 1)
  t.same(await countRows(app), { events: 1, guests: 1 })
})

t.test('GET /guests and GET /events/:id/guests page guests by id with their events nested', async (t) => {
  const app = await buildTestApp(t)
  const first = await postEvent(app, { name: 'First' })
  const second = await postEvent(app, { name: 'Second' })
  for (let i = 1; i <= 3; i++) {
    await postGuest(app, first.id, { name: `first-${i}` })
    await postGuest(app, second.id, { name: `second-${i}` })
  }

  const all = (await app.inject('/guests?limit=4')).json()
  t.equal(all.count, 6)
  t.same(all.results.map((guest: { name: string }) => guest.name), ['first-1', 'second-1', 'first-2', 'second-2'])
  t.same(all.results.map((guest: { event: { name: string } }) => guest.event.name),
    ['First', 'Second', 'First', 'Second'])
  t.equal(all.next, 'http://api.test/guests?limit=4&offset=4')
  t.equal(all.previous, null)

  const ofSecond = (await app.inject(`/events/${second.id}/guests?limit=2&offset=1`)).json()
  t.equal(ofSecond.count, 3)
  t.same(ofSecond.results.map((guest: { name: string }) => guest.name), ['second-2', 'second-3'])
  t.equal(ofSecond.next, null)
  t.equal(ofSecond.previous, `http://api.test/events/${second.id}/guests?limit=2`)

  const empty = await postEvent(app, { name: 'Empty' })
  t.same((await app.inject(`/events/${empty.id}/guests`)).json(), { count: 0, next: null, previous: null, results: [] })
})
