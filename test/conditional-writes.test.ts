// Conditional writes (RFC 9110 §13): a write's answer carries the ETag a GET of the resource answers
// next, `If-Match` refuses a write whose ETag is no longer current with a 412 and writes nothing, and
// of concurrent writes holding the same ETag exactly one wins. GET → edit → PATCH loses no update.
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import t from 'tap'
import { buildTestApp, type TestApp } from './support/app.ts'
import { countRows } from './support/database.ts'
import { postEvent, postGuest } from './support/fixtures.ts'

// Past MIN_COMPRESSED_BYTES, so each coding has a representation of its own.
const LONG = 'An annual conference. '.repeat(80)
const CODINGS = ['identity', 'br', 'gzip'] as const
const EVENT = { name: 'An event', date: '2030-01-02', location: 'There', description: LONG }

function decoded (body: Buffer, coding: string | undefined): string {
  if (coding === 'br') return brotliDecompressSync(body).toString()
  if (coding === 'gzip') return gunzipSync(body).toString()
  return body.toString()
}

async function get (app: TestApp, url: string, coding = 'identity') {
  return app.inject({ url, headers: { 'accept-encoding': coding } })
}

async function resources (app: TestApp) {
  const event = await postEvent(app, { description: LONG })
  const guest = await postGuest(app, event.id)
  return { event, guest, other: await postEvent(app, { name: 'Another', description: LONG }) }
}

t.test('a write answers with the representation, and the ETag, a GET of the resource answers next', async (t) => {
  const app = await buildTestApp(t)
  const { event, guest, other } = await resources(app)
  for (const coding of CODINGS) {
    const headers = { 'accept-encoding': coding }
    const writes = [
      { method: 'POST', url: '/events', payload: { ...EVENT, name: 'New' } },
      { method: 'PUT', url: `/events/${event.id}`, payload: { ...EVENT, name: 'Put' } },
      { method: 'PATCH', url: `/events/${event.id}`, payload: { description: `${LONG} ${coding}` } },
      { method: 'POST', url: '/guests', payload: { event_id: event.id, name: 'Grace', email: 'grace@example.com' } },
      { method: 'PATCH', url: `/guests/${guest.id}`, payload: { event_id: other.id } },
      { method: 'PUT', url: `/guests/${guest.id}`, payload: { event_id: event.id, name: 'Ada', email: 'a@ex.com' } }
    ] as const
    for (const { method, url, payload } of writes) {
      const written = await app.inject({ method, url, payload, headers })
      t.equal(written.statusCode, method === 'POST' ? 201 : 200, `${method} ${url} (${coding})`)
      const location = written.headers.location ?? url
      const read = await get(app, String(location), coding)
      t.equal(read.headers['x-cache'], 'MISS', `${method} ${url}: the GET after it reads what the write stored`)
      t.equal(written.headers.etag, read.headers.etag, `${method} ${url} (${coding}): the GET's ETag`)
      t.equal(written.headers['content-encoding'], read.headers['content-encoding'], 'in the same coding')
      t.ok(written.rawPayload.equals(read.rawPayload), 'the same bytes')
      t.equal(written.headers.vary, 'accept-encoding')
      t.equal(written.headers['cache-control'], 'no-store')
      t.equal(read.statusCode, 200, 'of the resource written')
    }
  }
  t.equal((await get(app, `/events/${event.id}`, 'br')).headers['content-encoding'], 'br', 'br was tried')
})

t.test('If-Match: a stale ETag is a 412 and writes nothing; the current one, in any coding, writes', async (t) => {
  const app = await buildTestApp(t)
  const { event, guest } = await resources(app)
  const writes = [
    ['PUT', `/events/${event.id}`, { ...EVENT, name: 'Put' }],
    ['PATCH', `/events/${event.id}`, { name: 'Patched' }],
    ['PUT', `/guests/${guest.id}`, { event_id: event.id, name: 'Ada', email: 'ada@example.com' }],
    ['PATCH', `/guests/${guest.id}`, { name: 'Grace' }],
    ['DELETE', `/guests/${guest.id}`, undefined],
    ['DELETE', `/events/${event.id}`, undefined]
  ] as const
  for (const [method, url, payload] of writes) {
    const stale = (await get(app, url)).headers.etag as string
    // Another client's write makes that ETag stale.
    const touched = await app.inject({ method: 'PATCH', url, payload: { name: `touched ${method}` } })
    t.equal(touched.statusCode, 200)
    const rows = await countRows(app)
    const before = await get(app, url)
    t.equal(before.headers['x-cache'], 'MISS')
    for (const ifMatch of [stale, `W/${before.headers.etag}`, '"nonsense"', `${stale}, "other"`]) {
      const refused = await app.inject({ method, url, payload, headers: { 'if-match': ifMatch } })
      t.equal(refused.statusCode, 412, `${method} ${url} with If-Match ${ifMatch}: 412`)
      t.same(refused.json(), {
        statusCode: 412,
        code: 'EC_PRECONDITION_FAILED',
        error: 'Precondition Failed',
        message: 'If-Match names no current representation of the resource'
      })
      t.equal(refused.headers.etag, undefined, 'a refusal carries no ETag')
    }
    t.same(await countRows(app), rows, 'nothing was written')
    const after = await get(app, url)
    t.equal(after.headers['x-cache'], 'HIT', 'nothing was invalidated')
    t.equal(after.body, before.body, 'the resource is as it was')
    const current = (await get(app, url, 'gzip')).headers.etag as string
    t.match(current, /\.gzip"$/, 'the tag a gzip GET answered')
    const written = await app.inject({ method, url, payload, headers: { 'if-match': `"other", ${current}` } })
    t.equal(written.statusCode, method === 'DELETE' ? 204 : 200, `${method} ${url}, the current ETag: written`)
    if (method !== 'DELETE') t.not(written.headers.etag, before.headers.etag, 'under a new ETag')
  }
})

t.test('If-Match `*` writes a resource that exists; a missing one is a 404 whatever the preconditions', async (t) => {
  const app = await buildTestApp(t)
  const { event, guest } = await resources(app)
  for (const url of [`/events/${event.id}`, `/guests/${guest.id}`]) {
    const headers = { 'if-match': '*' }
    const written = await app.inject({ method: 'PATCH', url, payload: { name: 'Star' }, headers })
    t.equal(written.statusCode, 200, `${url}: If-Match * on an existing resource`)
  }
  for (const url of ['/events/999', '/guests/999']) {
    for (const headers of [{ 'if-match': '*' }, { 'if-match': '"x"' }, { 'if-none-match': '*' }]) {
      const missing = await app.inject({ method: 'PATCH', url, payload: { name: 'Nobody' }, headers })
      t.equal(missing.statusCode, 404, `${url} with ${JSON.stringify(headers)}: 404`)
      t.equal((await app.inject({ method: 'DELETE', url, headers })).statusCode, 404)
    }
  }
})

t.test('If-None-Match on a write: `*` or a current ETag (weak too) refuses it; another lets it through', async (t) => {
  const app = await buildTestApp(t)
  const { event } = await resources(app)
  const url = `/events/${event.id}`
  const etag = (await get(app, url, 'br')).headers.etag as string
  for (const ifNoneMatch of ['*', etag, `W/${etag}`]) {
    const headers = { 'if-none-match': ifNoneMatch }
    const refused = await app.inject({ method: 'PATCH', url, payload: { name: 'No' }, headers })
    t.equal(refused.statusCode, 412, `If-None-Match ${ifNoneMatch}: 412`)
  }
  const headers = { 'if-none-match': '"x"' }
  const written = await app.inject({ method: 'PATCH', url, payload: { name: 'Yes' }, headers })
  t.equal(written.statusCode, 200)
  const both = await app.inject({
    method: 'PATCH',
    url,
    payload: { name: 'Both' },
    headers: { 'if-match': written.headers.etag as string, 'if-none-match': written.headers.etag as string }
  })
  t.equal(both.statusCode, 412, 'both are checked')
  t.equal((await get(app, url)).json().name, 'Yes')
})

t.test('concurrent writes holding the same ETag: exactly one is written, the others are 412', async (t) => {
  const app = await buildTestApp(t)
  const { event, guest } = await resources(app)
  for (const url of [`/events/${event.id}`, `/guests/${guest.id}`]) {
    for (let round = 0; round < 5; round++) {
      const etag = (await get(app, url)).headers.etag as string
      const answers = await Promise.all(Array.from({ length: 6 }, (_, writer) => app.inject({
        method: 'PATCH',
        url,
        payload: { name: `writer ${round}.${writer}` },
        headers: { 'if-match': etag }
      })))
      const statuses = answers.map((answer) => answer.statusCode)
      t.same(statuses.filter((status) => status === 200).length, 1, `${url} round ${round}: one written (${statuses})`)
      t.same(statuses.filter((status) => status === 412).length, 5, 'the others refused')
      const winner = answers.find((answer) => answer.statusCode === 200)!
      const read = await get(app, url)
      t.equal(read.json().name, winner.json().name, 'what is stored is the winner\'s')
      t.equal(read.headers.etag, winner.headers.etag, 'under the ETag it answered')
    }
  }
})

t.test('GET, edit, PATCH with If-Match: the natural flow loses no update', async (t) => {
  const app = await buildTestApp(t)
  const { event } = await resources(app)
  const url = `/events/${event.id}`
  const alice = await get(app, url, 'br')
  const bob = await get(app, url, 'gzip')
  const aliceWrites = await app.inject({
    method: 'PATCH', url, payload: { location: 'Alice\'s room' }, headers: { 'if-match': alice.headers.etag as string }
  })
  t.equal(aliceWrites.statusCode, 200)
  const bobWrites = await app.inject({
    method: 'PATCH', url, payload: { name: 'Bob\'s name' }, headers: { 'if-match': bob.headers.etag as string }
  })
  t.equal(bobWrites.statusCode, 412, 'Bob read before Alice wrote: refused, not overwriting her change')
  const again = await get(app, url, 'gzip')
  const bobWritesAgain = await app.inject({
    method: 'PATCH', url, payload: { name: 'Bob\'s name' }, headers: { 'if-match': again.headers.etag as string }
  })
  t.equal(bobWritesAgain.statusCode, 200, 'Bob reads again, and writes')
  const final = (await get(app, url)).json()
  t.equal(final.location, 'Alice\'s room', 'Alice\'s change kept')
  t.equal(final.name, 'Bob\'s name', 'and Bob\'s')
})

t.test('CACHE_PRECOMPRESS=false: a write\'s ETag is still the one the GET after it answers', async (t) => {
  const app = await buildTestApp(t, { CACHE_PRECOMPRESS: 'false' })
  const { event } = await resources(app)
  const url = `/events/${event.id}`
  const headers = { 'accept-encoding': 'br' }
  const written = await app.inject({ method: 'PATCH', url, payload: { name: 'x' }, headers })
  const read = await get(app, url, 'br')
  t.equal(written.headers.etag, read.headers.etag)
  t.equal(written.headers['content-encoding'], 'br', '@fastify/compress codes it, as it codes the GET')
  t.equal(decoded(written.rawPayload, 'br'), decoded(read.rawPayload, 'br'))
  const ifMatch = { 'if-match': read.headers.etag as string }
  const patched = await app.inject({ method: 'PATCH', url, payload: { name: 'y' }, headers: ifMatch })
  t.equal(patched.statusCode, 200, 'and If-Match accepts it')
})

t.test('a conditional write refused for its body is a 400, not a 503 for a connection it did not lose', async (t) => {
  const app = await buildTestApp(t)
  const { guest } = await resources(app)
  const url = `/guests/${guest.id}`
  for (let attempt = 0; attempt < 3; attempt++) {
    const moved = await app.inject({ method: 'PATCH', url, payload: { event_id: 4242 }, headers: { 'if-match': '*' } })
    t.equal(moved.statusCode, 400, 'an unknown event inside the precondition\'s transaction: 400, not 503')
    t.equal(moved.json().code, 'EC_UNKNOWN_EVENT')
  }
  t.equal(app.pg.pool.totalCount - app.pg.pool.idleCount, 0, 'no connection left checked out')
  t.equal((await get(app, url)).json().event.id, guest.event.id, 'nothing written')
})
