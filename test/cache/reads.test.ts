import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildTestApp } from '../support/app.ts'
import { CACHE_TEST_MODES, cacheEnv } from '../support/cache-modes.ts'
import { createTestDatabase } from '../support/database.ts'
import { patchEvent, postEvent, postGuest } from '../support/fixtures.ts'

for (const mode of CACHE_TEST_MODES) {
  t.test(`${mode}: a miss loads once, a hit sends the same bytes with no query; ` +
    'off, miss and hit bodies are byte-identical', async (t) => {
    const database = await createTestDatabase(t)
    const app = await buildTestApp(t, { DATABASE_URL: database, ...await cacheEnv(t, mode) })
    const off = await buildTestApp(t, { DATABASE_URL: database, CACHE_MODE: 'off' })
    const event = await postEvent(app)
    const guest = await postGuest(app, event.id)

    const detail = `/events/${event.id}`
    const urls = ['/events', '/events?limit=1', detail, `${detail}/guests`, '/guests', `/guests/${guest.id}`]
    for (const url of urls) {
      const miss = await app.inject(url)
      const hit = await app.inject(url)
      const uncached = await off.inject(url)
      t.equal(miss.statusCode, 200, url)
      t.equal(miss.headers['x-cache'], 'MISS', `${url}: first read misses`)
      t.equal(miss.headers['x-db-queries'], '1', `${url}: the miss queries once`)
      t.equal(hit.headers['x-cache'], 'HIT', `${url}: second read hits`)
      t.equal(hit.headers['x-db-queries'], '0', `${url}: the hit does not touch PostgreSQL`)
      t.equal(hit.body, miss.body, `${url}: hit bytes = miss bytes`)
      t.equal(uncached.body, miss.body, `${url}: cached bytes = uncached bytes`)
      t.equal(uncached.headers['x-cache'], 'OFF')
      t.equal(hit.headers['content-type'], 'application/json; charset=utf-8')
      t.equal(hit.headers['content-length'], String(Buffer.byteLength(miss.body)))
      t.match(hit.headers.etag, /^"[\w-]{27}"$/, `${url}: strong ETag`)
      t.equal(hit.headers.etag, miss.headers.etag, `${url}: the ETag is the stored one`)
      t.equal(uncached.headers.etag, miss.headers.etag, `${url}: the ETag is of the bytes`)
      // A tiered hit says which tier answered (desc=l1: from this process, no I/O).
      const hitTiming = mode === 'tiered'
        ? /^cache;desc=l1;dur=\d+\.\d\d, db;dur=0\.00$/
        : /^cache;dur=\d+\.\d\d, db;dur=0\.00$/
      t.match(hit.headers['server-timing'], hitTiming)
      t.match(miss.headers['server-timing'], /^cache;dur=\d+\.\d\d, db;dur=\d+\.\d\d$/)
    }
  })

  t.test(`${mode}: If-None-Match with the ETag answers 304 without a body or a query`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    await postEvent(app)
    const first = await app.inject('/events')
    const etag = first.headers.etag as string

    const revalidated = await app.inject({ url: '/events', headers: { 'if-none-match': etag } })
    t.equal(revalidated.statusCode, 304)
    t.equal(revalidated.body, '')
    t.equal(revalidated.headers.etag, etag)
    t.equal(revalidated.headers['x-cache'], 'HIT')
    t.equal(revalidated.headers['x-db-queries'], '0')

    const ifNoneMatch = async (value: string) =>
      (await app.inject({ url: '/events', headers: { 'if-none-match': value } })).statusCode
    t.equal(await ifNoneMatch(`"other", W/${etag}`), 304, 'weak comparison, lists')
    t.equal(await ifNoneMatch('"other"'), 200, 'a different ETag gets the body')

    await postEvent(app, { name: 'changed' })
    const changed = await app.inject({ url: '/events', headers: { 'if-none-match': etag } })
    t.equal(changed.statusCode, 200, 'after a write the old ETag no longer matches')
    t.not(changed.headers.etag, etag)

    const head = await app.inject({ method: 'HEAD', url: '/events' })
    const ifNoneMatchChanged = { 'if-none-match': changed.headers.etag as string }
    const headRevalidated = await app.inject({ method: 'HEAD', url: '/events', headers: ifNoneMatchChanged })
    t.equal(headRevalidated.statusCode, 304, 'HEAD with the ETag: 304')
    t.equal(headRevalidated.body, '')
    t.equal(headRevalidated.headers['content-length'], head.headers['content-length'],
      'saying the length a 200 would have, never 0')
    t.ok(Number(head.headers['content-length']) > 0)

    // RFC 9110 §13.2.1: evaluated only where the answer would be a 2xx.
    const missing = await app.inject('/events/4242')
    t.equal(missing.statusCode, 404)
    for (const value of [missing.headers.etag as string, '*']) {
      const again = await app.inject({ url: '/events/4242', headers: { 'if-none-match': value } })
      t.equal(again.statusCode, 404, `a missing resource with If-None-Match: ${value} stays a 404`)
      t.equal(again.json().code, 'EC_NOT_FOUND')
    }
  })

  t.test(`${mode}: a 404 is cached briefly, and creating the id drops it`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    const missing = await app.inject('/events/1')
    t.equal(missing.statusCode, 404)
    t.equal(missing.headers['x-cache'], 'MISS')
    const again = await app.inject('/events/1')
    t.equal(again.statusCode, 404)
    t.equal(again.headers['x-cache'], 'HIT', 'enumerating ids that do not exist does not reach PostgreSQL')
    t.equal(again.headers['x-db-queries'], '0')
    t.same(again.json(), { statusCode: 404, code: 'EC_NOT_FOUND', error: 'Not Found', message: 'event 1 not found' })
    t.equal((await app.inject('/events/1/guests')).statusCode, 404)
    t.equal((await app.inject('/guests/1')).statusCode, 404)

    const event = await postEvent(app)
    t.equal(event.id, 1)
    t.equal((await app.inject('/events/1')).statusCode, 200, 'the event exists now')
    t.equal((await app.inject('/events/1/guests')).statusCode, 200)
    await postGuest(app, 1)
    t.equal((await app.inject('/guests/1')).statusCode, 200, 'the guest exists now')
  })

  t.test(`${mode}: negative entries expire after CACHE_NEGATIVE_TTL`, async (t) => {
    const app = await buildTestApp(t, { ...await cacheEnv(t, mode), CACHE_NEGATIVE_TTL: '1' })
    await app.inject('/events/5')
    t.equal((await app.inject('/events/5')).headers['x-cache'], 'HIT')
    await sleep(1_100)
    t.equal((await app.inject('/events/5')).headers['x-cache'], 'MISS')
  })

  t.test(`${mode}: only validated parameters make keys`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    await postEvent(app)
    t.equal((await app.inject('/events?limit=5')).headers['x-cache'], 'MISS')
    const sameKey = ['/events?limit=5&utm=1', '/events?limit=5&offset=0', '/events/?limit=5&cachebuster=' + Date.now(),
      '/events?offset=0&limit=5']
    for (const url of sameKey) {
      const response = await app.inject({ url, headers: { host: 'other.example', 'x-forwarded-host': 'evil' } })
      t.equal(response.headers['x-cache'], 'HIT', url)
    }
    t.equal((await app.inject('/events?limit=05')).headers['x-cache'], 'HIT', 'the number, not its spelling')
    t.equal((await app.inject('/events?limit=6')).headers['x-cache'], 'MISS', 'another page size is another key')
  })

  t.test(`${mode}: CACHE_INVALIDATE=false really serves stale data until the TTL ` +
    '(the article\'s demonstration)', async (t) => {
    const app = await buildTestApp(t, { ...await cacheEnv(t, mode), CACHE_INVALIDATE: 'false', CACHE_TTL: '2' })
    const event = await postEvent(app, { name: 'before' })
    t.equal((await app.inject(`/events/${event.id}`)).json().name, 'before')
    await patchEvent(t, app, event.id, { name: 'after' })
    const stale = await app.inject(`/events/${event.id}`)
    t.equal(stale.headers['x-cache'], 'HIT')
    t.equal(stale.json().name, 'before', 'stale: the write was not invalidated')
    await sleep(2_100)
    const fresh = await app.inject(`/events/${event.id}`)
    t.equal(fresh.headers['x-cache'], 'MISS')
    t.equal(fresh.json().name, 'after', 'the TTL ends it')
  })

  t.test(`${mode}: read-your-writes — every answer after a write shows it`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    const event = await postEvent(app)
    for (let i = 0; i < 20; i++) {
      await app.inject(`/events/${event.id}`)
      await app.inject('/events')
      const patched = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: `name ${i}` } })
      t.equal(patched.statusCode, 200)
      t.equal((await app.inject(`/events/${event.id}`)).json().name, `name ${i}`)
      t.equal((await app.inject('/events')).json().results[0].name, `name ${i}`)
    }
  })
}

t.test('CACHE_MODE=off: no X-Cache store at all, every read queries', async (t) => {
  const app = await buildTestApp(t, { CACHE_MODE: 'off' })
  await postEvent(app)
  for (let i = 0; i < 3; i++) {
    const response = await app.inject('/events')
    t.equal(response.headers['x-cache'], 'OFF')
    t.equal(response.headers['x-db-queries'], '1')
    t.match(response.headers['server-timing'], /^db;dur=/)
  }
})
