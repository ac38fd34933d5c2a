import type pg from 'pg'

export interface SeedOptions {
  events: number
  guestsPerEvent: number
  /** Empty both tables (and restart ids at 1) first. */
  truncate: boolean
}

/**
 * Loads realistic events and guests with two set-based statements inside PostgreSQL (no rows
 * cross the wire), so a million guests take seconds. Values vary with the row number, so pages
 * differ and the 100-event page is about 38 KB of JSON.
 */
export async function seed (pool: pg.Pool, options: SeedOptions): Promise<{ events: number, guests: number }> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    if (options.truncate) await client.query('TRUNCATE guests, events RESTART IDENTITY')
    const { rows } = await client.query<{ events: number, guests: number }>(
      SEED_SQL,
      [options.events, options.guestsPerEvent]
    )
    await client.query('COMMIT')
    // Fresh statistics, so the first queries after a large load get sensible plans.
    await client.query('ANALYZE events')
    await client.query('ANALYZE guests')
    return rows[0] ?? { events: 0, guests: 0 }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

const SEED_SQL = `
WITH new_events AS (
  INSERT INTO events (name, date, location, description)
  SELECT
    (ARRAY['DjangoCon', 'PyCon', 'NodeConf', 'JSConf', 'RustConf',
           'GopherCon', 'KubeCon', 'PGConf', 'RedisConf', 'FastifyConf'])[1 + n % 10]
      || ' ' || (ARRAY['US', 'EU', 'Africa', 'Asia', 'Brasil', 'India', 'Australia'])[1 + n % 7]
      || ' ' || (2015 + n % 12) || ' #' || n,
    timestamptz '2020-01-01 09:00:00+00' + (n % 3650) * interval '1 day' + (n % 8) * interval '1 hour',
    (ARRAY['San Diego, CA', 'Berlin, Germany', 'Addis Ababa, Ethiopia', 'Tokyo, Japan', 'São Paulo, Brazil',
           'Bengaluru, India', 'Sydney, Australia', 'Lisbon, Portugal', 'Toronto, Canada',
           'Nairobi, Kenya'])[1 + n % 10],
    'The annual conference for the community: a place to meet other users and developers, catch up on the '
      || 'latest news and developments, and learn what is coming next. Edition ' || n
      || ', track ' || (1 + n % 5) || '.'
  FROM generate_series(1, $1::int) AS n
  RETURNING id
),
new_guests AS (
  INSERT INTO guests (event_id, name, email)
  SELECT
    e.id,
    (ARRAY['Abebe', 'Amelia', 'Chen', 'Dmitri', 'Fatima', 'Hana',
           'Ivan', 'Lucia', 'Mateo', 'Noor', 'Priya', 'Sven'])[1 + (e.id + g) % 12]
      || ' ' || (ARRAY['Bekele', 'Smith', 'Wang', 'Ivanov', 'Khan', 'Sato',
                       'Petrov', 'Garcia', 'Rossi', 'Haddad', 'Patel', 'Larsen'])[1 + (e.id * 7 + g) % 12],
    'guest' || g || '.event' || e.id || '@example.com'
  FROM new_events AS e CROSS JOIN generate_series(1, $2::int) AS g
  RETURNING 1
)
SELECT (SELECT count(*) FROM new_events)::int AS events, (SELECT count(*) FROM new_guests)::int AS guests
`
