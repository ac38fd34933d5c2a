// The newcomer's path: no DATABASE_URL, so the app starts an embedded PostgreSQL, from an empty
// folder the first time. Every cache mode is walked through it, with the API a user meets first:
// a write, reads that the cache answers, a change that no read misses, a delete. The rest of the
// suite runs against whichever PostgreSQL DATABASE_URL names (CI: the machine's); this file is
// what proves the embedded one serves every mode.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { embeddedDataDir } from './support/database.ts'
import { eventInput } from './support/fixtures.ts'
import { startRedisServer } from './support/redis-server.ts'
import { exitOf, startServerProcess, type ServerProcess } from './support/server-process.ts'
import { until } from './support/waiting.ts'

const MODES = ['off', 'memory', 'redis', 'tiered'] as const
type Mode = typeof MODES[number]

interface Reply { status: number, cache: string | null, queries: string | null, body: any }

async function call (server: ServerProcess, method: string, path: string, body?: unknown): Promise<Reply> {
  const response = await fetch(server.url + path, {
    method,
    ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  })
  const text = await response.text()
  return {
    status: response.status,
    cache: response.headers.get('x-cache'),
    queries: response.headers.get('x-db-queries'),
    body: text === '' ? undefined : JSON.parse(text)
  }
}

/** A read twice: the second is a hit with no query, where the mode caches. */
async function readTwice (t: Test, server: ServerProcess, mode: Mode, path: string): Promise<Reply> {
  const first = await call(server, 'GET', path)
  const second = await call(server, 'GET', path)
  t.equal(first.status, 200, `GET ${path}`)
  t.same(second.body, first.body, `GET ${path} again: the same body`)
  if (mode === 'off') {
    t.same([first.cache, second.cache], ['OFF', 'OFF'], `GET ${path}: no cache`)
  } else {
    t.same([first.cache, second.cache], ['MISS', 'HIT'], `GET ${path}: a miss, then a hit`)
    t.equal(second.queries, '0', `GET ${path}: the hit queried nothing`)
  }
  return second
}

/** What a user does first in `mode`: create, read, change, read again, delete. */
async function walk (t: Test, server: ServerProcess, mode: Mode): Promise<void> {
  t.same((await call(server, 'GET', '/health')).body, { status: 'ok', postgres: 'up' }, 'ready')

  const created = await call(server, 'POST', '/events', eventInput({ name: `First event (${mode})` }))
  t.equal(created.status, 201, 'an event is created')
  const id = created.body.id as number
  const event = await readTwice(t, server, mode, `/events/${id}`)
  t.equal(event.body.name, `First event (${mode})`)
  const list = await readTwice(t, server, mode, '/events?limit=100')
  t.ok(list.body.results.some((item: { id: number }) => item.id === id), 'the list holds it')

  const guest = await call(server, 'POST', '/guests', { event_id: id, name: 'Ada Lovelace', email: 'ada@example.com' })
  t.equal(guest.status, 201, 'a guest is created')
  const guests = await readTwice(t, server, mode, `/guests/${guest.body.id}`)
  t.equal(guests.body.event.id, id, 'the guest carries its event')

  const renamed = await call(server, 'PATCH', `/events/${id}`, { name: `Renamed (${mode})` })
  t.equal(renamed.status, 200, 'the event is changed')
  const after = await call(server, 'GET', `/events/${id}`)
  t.equal(after.body.name, `Renamed (${mode})`, 'the read after the write sees it')
  t.equal(after.cache, mode === 'off' ? 'OFF' : 'MISS', 'the cached copy was invalidated')
  const guestAfter = await call(server, 'GET', `/guests/${guest.body.id}`)
  t.equal(guestAfter.body.event.name, `Renamed (${mode})`, 'so was the guest that nests it')

  t.equal((await call(server, 'DELETE', `/events/${id}`)).status, 204, 'the event is deleted')
  t.equal((await call(server, 'GET', `/events/${id}`)).status, 404, 'and gone')
  t.equal((await call(server, 'GET', `/guests/${guest.body.id}`)).status, 404, 'with its guests')
}

t.test('from an empty folder, the embedded PostgreSQL serves every cache mode, and stops with the app', async (t) => {
  const dataDir = await embeddedDataDir(t, 'start')
  const redis = await startRedisServer(t)
  for (const [index, mode] of MODES.entries()) {
    await t.test(`CACHE_MODE=${mode}`, async (t) => {
      const env: Record<string, string> = { EMBEDDED_POSTGRES_DIR: dataDir, CACHE_MODE: mode }
      if (mode === 'redis' || mode === 'tiered') Object.assign(env, { REDIS_URL: redis.url, CACHE_PREFIX: mode })
      const server = await startServerProcess(t, env)
      const initialised = server.logs.some((line) => line.includes('initialising embedded PostgreSQL'))
      t.equal(initialised, index === 0, index === 0 ? 'the first start initialises it' : 'a later one reuses it')
      const bannerOf = () => server.logs.find((line) => line.includes('eventcache serving'))
      await until('the start-up banner', async () => bannerOf() !== undefined)
      t.match(JSON.parse(bannerOf()!).msg, new RegExp(`^eventcache serving ${server.url} · cache: ${mode} .* · ` +
        'PostgreSQL: embedded, data in /\\S+ · docs: \\S+/docs · cache panel: \\S+/_cache$'), 'one line says what runs')
      const amiss = server.logs.some((line) => line.includes('changes may have been missed'))
      t.notOk(amiss, 'a first start says nothing amiss')
      await walk(t, server, mode)

      const postmaster = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
      server.process.kill('SIGTERM')
      t.equal((await exitOf(server.process)).code, 0, 'SIGTERM: exit 0')
      t.throws(() => process.kill(postmaster, 0), 'PostgreSQL stopped with the app')
    })
  }
})
