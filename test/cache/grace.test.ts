// CACHE_GRACE over HTTP, in every cache mode: with PostgreSQL cut off, what had only expired is
// served STALE with its Age, and what a write invalidated, or never was stored, is a 503.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildTestApp } from '../support/app.ts'
import { CACHE_TEST_MODES, cacheEnv } from '../support/cache-modes.ts'
import { createTestDatabase } from '../support/database.ts'
import { postEvent } from '../support/fixtures.ts'
import { startTcpProxy, viaProxy } from '../support/tcp-proxy.ts'

/** An app whose database is behind a proxy the test can cut, failing a load within half a second. */
async function appBehindProxy (t: Parameters<typeof buildTestApp>[0], env: Record<string, string>) {
  const url = await createTestDatabase(t)
  const proxy = await startTcpProxy(t, Number(new URL(url).port || 5432))
  const app = await buildTestApp(t, {
    ...env,
    DATABASE_URL: viaProxy(url, proxy.url('postgres')),
    DATABASE_STATEMENT_TIMEOUT_MS: '500',
    DATABASE_CONNECT_TIMEOUT_MS: '500',
    CACHE_TTL: '1',
    CACHE_REFRESH_AHEAD: 'false'
  })
  return { app, proxy }
}

for (const mode of CACHE_TEST_MODES) {
  t.test(`${mode}: PostgreSQL down, an expired response is served STALE; an invalidated one never is`, async (t) => {
    const { app, proxy } = await appBehindProxy(t, { ...await cacheEnv(t, mode), CACHE_GRACE: '60' })
    const kept = await postEvent(app, { name: 'kept' })
    const changed = await postEvent(app, { name: 'changed' })
    const urls = [`/events/${kept.id}`, `/events/${changed.id}`, '/events']
    for (const url of urls) t.equal((await app.inject(url)).headers['x-cache'], 'MISS', `${url} stored`)
    const patched = await app.inject({ method: 'PATCH', url: `/events/${changed.id}`, payload: { name: 'renamed' } })
    t.equal(patched.statusCode, 200, 'a write invalidates its event and the list')
    await sleep(1_100)

    proxy.cut()
    const stale = await app.inject(`/events/${kept.id}`)
    t.equal(stale.statusCode, 200)
    t.equal(stale.headers['x-cache'], 'STALE', 'the load failed: the expired response')
    t.equal(stale.json().name, 'kept')
    t.ok(Number(stale.headers.age) >= 1, `with its age (${String(stale.headers.age)} s)`)
    t.ok(stale.headers.etag, 'and its ETag')
    const etag = stale.headers.etag
    const revalidated = await app.inject({ url: `/events/${kept.id}`, headers: { 'if-none-match': etag } })
    t.equal(revalidated.statusCode, 304, 'a client holding it may keep it')
    for (const url of [`/events/${changed.id}`, '/events', '/events/999999']) {
      const answer = await app.inject(url)
      t.equal(answer.statusCode, 503, `${url}: invalidated or never stored, so a 503`)
      t.not(answer.headers['x-cache'], 'STALE')
    }

    proxy.heal()
    const back = await app.inject(`/events/${kept.id}`)
    t.same([back.statusCode, back.headers['x-cache']], [200, 'MISS'], 'PostgreSQL back: loaded again')
    t.equal(back.headers.age, undefined, 'a fresh response has no Age')
  })
}

t.test('redis: past its grace an entry is gone, and the 503 stands', async (t) => {
  const { app, proxy } = await appBehindProxy(t, { ...await cacheEnv(t, 'redis'), CACHE_GRACE: '1' })
  const event = await postEvent(app)
  await app.inject(`/events/${event.id}`)
  await sleep(2_100)
  proxy.cut()
  t.equal((await app.inject(`/events/${event.id}`)).statusCode, 503)
})
