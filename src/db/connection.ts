import pg from 'pg'
import type { Config } from '../config.ts'
import { startEmbeddedPostgres } from './embedded-postgres.ts'
import { poolCloser } from './pool-closer.ts'

export interface Database {
  url: string
  /** What it is, for a person: the embedded server and its data folder, or the server `DATABASE_URL` names. */
  description: string
  /** Releases what `openDatabase` started (the embedded server, if it started one). */
  release: () => Promise<void>
}

type DatabaseConfig = Pick<Config, 'DATABASE_URL' | 'EMBEDDED_POSTGRES_DIR'>

/** `DATABASE_URL` when set; otherwise the embedded PostgreSQL under `EMBEDDED_POSTGRES_DIR`. */
export async function openDatabase (config: DatabaseConfig, log: (message: string) => void): Promise<Database> {
  if (config.DATABASE_URL) {
    return { url: config.DATABASE_URL, description: serverOf(config.DATABASE_URL), release: async () => {} }
  }
  const embedded = await startEmbeddedPostgres(config.EMBEDDED_POSTGRES_DIR, log)
  return { url: embedded.url, description: `embedded, data in ${embedded.dataDir}`, release: embedded.stop }
}

/** `host:port/database` of a connection string: never its user or password. */
function serverOf (url: string): string {
  try {
    const { hostname, port, pathname } = new URL(url)
    return `${hostname}:${port || 5432}${pathname}`
  } catch {
    return 'DATABASE_URL'
  }
}

/**
 * Pool settings for a service: bounded waits everywhere (pg has no connect or statement timeout
 * by default, so a stuck database would otherwise hang requests), and UTC sessions so that a
 * plain `YYYY-MM-DD` date means midnight UTC whatever the server's time zone.
 */
export function poolConfig (
  url: string,
  config: Pick<Config, 'DATABASE_POOL_SIZE' | 'DATABASE_CONNECT_TIMEOUT_MS' | 'DATABASE_STATEMENT_TIMEOUT_MS'>
): pg.PoolConfig {
  return {
    connectionString: url,
    max: config.DATABASE_POOL_SIZE,
    connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
    statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
    // Bounds a query even when the server stops answering altogether (statement_timeout cannot).
    query_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS + 1_000,
    idle_in_transaction_session_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
    keepAlive: true,
    application_name: 'eventcache',
    options: '-c TimeZone=UTC'
  }
}

/**
 * The app's own sessions: migration 003's triggers send nothing for what they write, as the app
 * invalidates its writes itself before it answers. Command-line tools (the seed) are writers like
 * any other, and are not tagged.
 */
export function appPoolConfig (url: string, config: Parameters<typeof poolConfig>[1]): pg.PoolConfig {
  const pool = poolConfig(url, config)
  return { ...pool, options: `${pool.options} -c eventcache.writer=api` }
}

/** For command-line tools: a pool for the duration of `work`, then everything released. */
export async function withDatabase<T> (config: Config, work: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const database = await openDatabase(config, (message) => console.error(message))
  // Batch work (a million-row seed) is bounded by the operator, not by the request timeouts.
  const pool = new pg.Pool({
    ...poolConfig(database.url, config),
    statement_timeout: 0,
    query_timeout: 0,
    idle_in_transaction_session_timeout: 0
  })
  const closer = poolCloser(pool)
  pool.on('error', (error) => console.error(`PostgreSQL pool: ${error.message}`))
  try {
    return await work(pool)
  } finally {
    await closer.close()
    await database.release()
  }
}
