import fp from 'fastify-plugin'
import { CHANGES_CHANNEL, DatabaseInvalidation, LISTENER_NAME } from '../src/cache/index.ts'
import { notifyListeners } from '../src/repositories/change-channel.ts'
import { guestIdsOfEvents } from '../src/repositories/guests.ts'

/**
 * CACHE_DB_INVALIDATION: invalidates what writes made outside the API change
 * (src/cache/database/database-invalidation.ts), on a PostgreSQL connection of its own, for as long as the app runs.
 */
export default fp(async function databaseInvalidation (app) {
  const { config, cache } = app
  // The pool's own settings: the same server, bounds and session settings.
  const { connectionString, connectionTimeoutMillis, keepAlive, options } = app.pg.pool.options
  const invalidation = new DatabaseInvalidation({
    cache,
    client: {
      connectionString,
      connectionTimeoutMillis,
      keepAlive,
      options,
      application_name: LISTENER_NAME,
      // The heartbeat's query: bounded like the app's own.
      query_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS
    },
    shared: config.usesRedis,
    guestsOf: (eventIds) => guestIdsOfEvents(app.pg.pool, eventIds),
    send: (payloads) => notifyListeners(app.pg.pool, CHANGES_CHANNEL, payloads, LISTENER_NAME),
    log: app.log
  })
  await invalidation.start()
  app.addHook('onClose', () => invalidation.stop())
}, { name: 'database-invalidation', dependencies: ['cache', 'postgres'] })
