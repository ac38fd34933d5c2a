import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'
import { promisify } from 'node:util'
import pg from 'pg'
import t, { type Test } from 'tap'
import { migrate, readMigrations } from '../src/db/migrate.ts'
import { poolCloser } from '../src/db/pool-closer.ts'
import { seed } from '../src/db/seed.ts'
import { createTestDatabase, testPool, withClient } from './support/database.ts'
import { viaProxy } from './support/tcp-proxy.ts'

const execFileAsync = promisify(execFile)

t.test('migrations are numbered, tracked, and safe to run twice or at once', async (t) => {
  const url = await createTestDatabase(t)
  const pools = [1, 2, 3].map(() => testPool(t, { connectionString: url, max: 2 }))

  const migrations = await readMigrations()
  t.ok(migrations.length >= 1)
  const versions = migrations.map((migration) => migration.version)
  t.same(versions, [...versions].sort((a, b) => a - b), 'in order')

  const concurrent = await Promise.all(pools.map((pool) => migrate(pool)))
  t.same(concurrent.flat().sort(), versions, 'three processes at once apply each migration exactly once')
  t.same(await migrate(pools[0]!), [], 'a second run applies nothing')

  const { rows } = await pools[0]!.query('SELECT version, name FROM schema_migrations ORDER BY version')
  t.same(rows, migrations.map(({ version, name }) => ({ version, name })))
  const tables = await pools[0]!.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
  t.same(tables.rows.map((row) => row.tablename), ['cache_owed_invalidations', 'events', 'guests', 'schema_migrations'])
})

t.test('the schema enforces what the API promises even to other writers', async (t) => {
  const url = await createTestDatabase(t)
  const pool = testPool(t, { connectionString: url })
  await migrate(pool)

  const insertEvent = 'INSERT INTO events (name, date, location) VALUES ($1, $2, $3) RETURNING id'
  const { rows: [event] } = await pool.query(insertEvent, ['e', '2020-01-01', 'l'])
  const orphan = "INSERT INTO guests (event_id, name, email) VALUES (999, 'g', 'g@example.com')"
  await t.rejects(pool.query(orphan), { code: '23503' }, 'foreign key')
  await t.rejects(pool.query(insertEvent, ['', '2020-01-01', 'l']), { code: '23514' }, 'empty name')
  await pool.query("INSERT INTO guests (event_id, name, email) VALUES ($1, 'g', 'g@example.com')", [event.id])
  await pool.query('DELETE FROM events WHERE id = $1', [event.id])
  t.equal((await pool.query('SELECT count(*)::int AS n FROM guests')).rows[0].n, 0, 'ON DELETE CASCADE')
  const plan = await pool.query('EXPLAIN SELECT id FROM guests WHERE event_id = 1 ORDER BY id')
  t.match(plan.rows.map((row) => row['QUERY PLAN']).join('\n'), /guests_event_id_id_idx/,
    'guests by event use the index')
})

t.test('seed loads N events with M guests each, set-based, optionally truncating first', async (t) => {
  const url = await createTestDatabase(t)
  const pool = testPool(t, { connectionString: url })
  await migrate(pool)

  t.same(await seed(pool, { events: 120, guestsPerEvent: 3, truncate: false }), { events: 120, guests: 360 })
  t.same(await seed(pool, { events: 10, guestsPerEvent: 0, truncate: false }), { events: 10, guests: 0 },
    'adds to what is there')
  t.same(await seed(pool, { events: 100, guestsPerEvent: 2, truncate: true }), { events: 100, guests: 200 })

  const { rows: [counts] } = await pool.query(`
    SELECT (SELECT count(*) FROM events)::int AS events,
      (SELECT min(id) FROM events) AS first_id,
      (SELECT count(DISTINCT name) FROM events)::int AS names
    FROM guests LIMIT 1`)
  t.same(counts, { events: 100, first_id: 1, names: 100 }, 'truncated, ids restarted, every name distinct')
  const { rows: [sizes] } = await pool.query(`
    SELECT count(DISTINCT event_id)::int AS events_with_guests, min(per)::int AS min, max(per)::int AS max
    FROM (SELECT event_id, count(*) AS per FROM guests GROUP BY event_id) AS g`)
  t.same(sizes, { events_with_guests: 100, min: 2, max: 2 })
})

t.test('npm run db:migrate and db:seed work from the command line', async (t) => {
  const url = await createTestDatabase(t)
  const env = { ...process.env, DATABASE_URL: url }
  const tsx = ['--import', 'tsx']

  const migrated = await execFileAsync(process.execPath, [...tsx, 'src/cli/migrate.ts'], { env })
  t.match(migrated.stdout, /applied migration\(s\) 1/)
  const again = await execFileAsync(process.execPath, [...tsx, 'src/cli/migrate.ts'], { env })
  t.match(again.stdout, /schema already up to date/)

  const seedArgs = ['--events', '50', '--guests-per-event', '4', '--truncate']
  const seeded = await execFileAsync(process.execPath, [...tsx, 'src/cli/seed.ts', ...seedArgs], { env })
  t.match(seeded.stdout, /emptied the tables, then added 50 events and 200 guests in \d+\.\d s/)
  const guests = await withClient(url, async (client) =>
    (await client.query('SELECT count(*)::int AS n FROM guests')).rows[0].n)
  t.equal(guests, 200)

  await t.rejects(execFileAsync(process.execPath, [...tsx, 'src/cli/seed.ts', '--events', 'many'], { env }),
    { code: 2, stderr: /--events must be a whole number, got "many"/ })
})

t.test('a pool closer resolves once every connection of the ended pool has closed, and cuts one that will not',
  async (t) => {
    const url = await createTestDatabase(t)
    const pool = new pg.Pool({ connectionString: url, max: 3 })
    const closer = poolCloser(pool)
    const clients = await Promise.all([1, 2, 3].map(() => pool.connect()))
    for (const client of clients) client.release()
    const open = () => clients.filter((client) => !client.connection.stream.closed).length

    // Ended by someone else first, as @fastify/postgres ends the app's pool.
    await pool.end()
    t.ok(open() > 0, `pool.end() has resolved with ${open()} of its 3 connections still open`)
    t.equal(await closer.close(), 0, 'none had to be cut')
    t.equal(open(), 0, 'the closer resolved once every one had closed')

    // A server that stopped answering never closes its side: the closer gives up waiting and destroys the socket.
    const relay = await hangingRelay(t, Number(new URL(url).port))
    const stuck = new pg.Pool({ connectionString: viaProxy(url, relay.url) })
    const stuckCloser = poolCloser(stuck)
    const client = await stuck.connect()
    client.release()
    relay.hang()
    t.equal(await stuckCloser.close(200), 1, 'one connection did not close within 200 ms: cut')
    t.ok(client.connection.stream.destroyed, 'its socket is gone')
  })

/**
 * A TCP relay to a local server that can hang: from then on it passes nothing on, not even a close, as a server
 * that stopped answering (test/support/tcp-proxy.ts's cut passes a close on).
 */
async function hangingRelay (t: Test, port: number): Promise<{ url: string, hang: () => void }> {
  let hung = false
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = createConnection({ port, host: '127.0.0.1', allowHalfOpen: true })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
    }
    client.on('data', (chunk) => { if (!hung) upstream.write(chunk) })
    upstream.on('data', (chunk) => { if (!hung) client.write(chunk) })
    client.on('end', () => { if (!hung) upstream.end() })
    upstream.on('end', () => { if (!hung) client.end() })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { url: `postgres://127.0.0.1:${(server.address() as AddressInfo).port}`, hang: () => { hung = true } }
}
