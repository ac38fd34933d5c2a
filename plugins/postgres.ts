import fastifyPostgres from '@fastify/postgres'
import fp from 'fastify-plugin'
import { openDatabase, poolConfig } from '../src/db/connection.ts'
import { migrate } from '../src/db/migrate.ts'

/**
 * PostgreSQL for the app: `app.pg` (from @fastify/postgres) on `DATABASE_URL`, or on an embedded
 * server started here when it is unset. The schema is migrated before the app serves.
 */
export default fp(async function postgres (app) {
  const { config } = app
  const database = await openDatabase(config, (message) => app.log.info(message))
  // Stops the embedded server after @fastify/postgres has ended the pool (onClose runs in
  // registration order, and this hook is added first).
  app.addHook('onClose', database.release)

  await app.register(fastifyPostgres, poolConfig(database.url, config))
  // @fastify/postgres adds no 'error' listener: without one, an idle client losing its connection
  // (a PostgreSQL restart) emits an unhandled 'error' and crashes the process.
  app.pg.pool.on('error', (error) => app.log.warn({ err: error }, 'idle PostgreSQL client lost its connection'))

  const applied = await migrate(app.pg.pool)
  if (applied.length > 0) app.log.info({ migrations: applied }, 'applied database migrations')
}, { name: 'postgres' })
