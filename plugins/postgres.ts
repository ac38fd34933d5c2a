import fastifyPostgres from '@fastify/postgres'
import fp from 'fastify-plugin'
import { appPoolConfig, openDatabase } from '../src/db/connection.ts'
import { migrate } from '../src/db/migrate.ts'
import { poolCloser } from '../src/db/pool-closer.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The database in use, for a person (the start-up banner): never its credentials. */
    database: string
  }
}

/**
 * PostgreSQL for the app: `app.pg` (from @fastify/postgres) on `DATABASE_URL`, or on an embedded
 * server started here when it is unset. The schema is migrated before the app serves.
 */
export default fp(async function postgres (app) {
  const { config } = app
  const database = await openDatabase(config, (message) => app.log.info(message))
  app.decorate('database', database.description)
  const closer = poolCloser()
  // Added before @fastify/postgres's own hook, which ends the pool, so it runs after it (onClose hooks run last
  // added first): the embedded server stops only once every connection of the pool has closed.
  app.addHook('onClose', async () => {
    const cut = await closer.close()
    if (cut > 0) app.log.warn({ connections: cut }, 'PostgreSQL connections that did not close in time were cut')
    await database.release()
  })

  await app.register(fastifyPostgres, appPoolConfig(database.url, config))
  closer.follow(app.pg.pool)
  // Every client has an 'error' listener all its life, or one lost connection ends the process:
  // docs/operations.md#postgresql-connections.
  app.pg.pool.on('error', (error) => app.log.warn({ err: error }, 'idle PostgreSQL client lost its connection'))
  app.pg.pool.on('connect', (client) => {
    client.on('error', (error) => app.log.debug({ err: error }, 'PostgreSQL client error'))
  })

  const applied = await migrate(app.pg.pool)
  if (applied.length > 0) app.log.info({ migrations: applied }, 'applied database migrations')
}, { name: 'postgres' })
