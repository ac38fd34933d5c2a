import { readdir, readFile } from 'node:fs/promises'
import type pg from 'pg'

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url)
// Any constant works; it only has to be the same for every process migrating this database.
const MIGRATION_LOCK_ID = 7_031_977

export interface Migration { version: number, name: string, sql: string }

/** The numbered `NNN_name.sql` files, in order. */
export async function readMigrations (): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).sort()
  return Promise.all(files.map(async (file) => {
    const match = /^(\d+)_(.+)\.sql$/.exec(file)
    if (!match) throw new Error(`migration file ${file} is not named NNN_name.sql`)
    return {
      version: Number(match[1]),
      name: match[2] ?? file,
      sql: await readFile(new URL(file, MIGRATIONS_DIR), 'utf8')
    }
  }))
}

/**
 * Applies every migration not yet recorded in `schema_migrations`, each in its own transaction.
 * An advisory lock serialises concurrent starts (several workers, several instances), so running
 * it twice, or at once, applies each migration exactly once.
 * @returns the versions applied by this call
 */
export async function migrate (pool: pg.Pool): Promise<number[]> {
  const migrations = await readMigrations()
  const client = await pool.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID])
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations')
    const applied = new Set(rows.map((row) => row.version))
    const appliedNow: number[] = []
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue
      await client.query('BEGIN')
      try {
        await client.query(migration.sql)
        await client.query(
          'INSERT INTO schema_migrations (version, name) VALUES ($1, $2)',
          [migration.version, migration.name]
        )
        await client.query('COMMIT')
      } catch (error) {
        await client.query('ROLLBACK')
        throw new Error(
          `migration ${migration.version}_${migration.name} failed: ${(error as Error).message}`,
          { cause: error }
        )
      }
      appliedNow.push(migration.version)
    }
    return appliedNow
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {})
    client.release()
  }
}
