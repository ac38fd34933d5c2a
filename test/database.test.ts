import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { migrate, readMigrations } from '../src/db/migrate.ts'
import { seed } from '../src/db/seed.ts'
import { createTestDatabase, testPool, withClient } from './support/database.ts'

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

  const migrated = await execFileAsync(process.execPath, [...tsx, 'src/db/migrate-cli.ts'], { env })
  t.match(migrated.stdout, /applied migration\(s\) 1/)
  const again = await execFileAsync(process.execPath, [...tsx, 'src/db/migrate-cli.ts'], { env })
  t.match(again.stdout, /schema already up to date/)

  const seedArgs = ['--events', '50', '--guests-per-event', '4', '--truncate']
  const seeded = await execFileAsync(process.execPath, [...tsx, 'src/db/seed-cli.ts', ...seedArgs], { env })
  t.match(seeded.stdout, /emptied the tables, then added 50 events and 200 guests in \d+\.\d s/)
  const guests = await withClient(url, async (client) =>
    (await client.query('SELECT count(*)::int AS n FROM guests')).rows[0].n)
  t.equal(guests, 200)

  await t.rejects(execFileAsync(process.execPath, [...tsx, 'src/db/seed-cli.ts', '--events', 'many'], { env }),
    { code: 2, stderr: /--events must be a whole number, got "many"/ })
})
