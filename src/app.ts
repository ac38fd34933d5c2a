import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyServerOptions } from 'fastify'
import auth from '../plugins/auth.ts'
import cachePanel from '../plugins/cache-panel.ts'
import cache from '../plugins/cache.ts'
import databaseInvalidation from '../plugins/database-invalidation.ts'
import drain from '../plugins/drain.ts'
import errors from '../plugins/errors.ts'
import httpCaching from '../plugins/http-caching.ts'
import metrics from '../plugins/metrics.ts'
import postgres from '../plugins/postgres.ts'
import rateLimit from '../plugins/rate-limit.ts'
import redis from '../plugins/redis.ts'
import securityHeaders from '../plugins/security-headers.ts'
import requestDb from '../plugins/request-db.ts'
import swagger from '../plugins/swagger.ts'
import { bodyLimitFor } from './body-limit.ts'
import type { Config } from './config.ts'
import { formatSchemaErrors } from './errors.ts'
import { loggerOptions, type LogStream } from './logger.ts'
import { createValidatorCompiler } from './validation.ts'
import eventRoutes from './routes/events.ts'
import guestRoutes from './routes/guests.ts'
import healthRoutes from './routes/health.ts'
import { CreateEventSchema, UpdateEventSchema } from './schemas/events.ts'
import { CreateGuestSchema, UpdateGuestSchema } from './schemas/guests.ts'
import { FlushBodySchema } from './schemas/panel.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/** The longest body any route's schema accepts, every character escaped (src/body-limit.ts). */
export const BODY_LIMIT = bodyLimitFor([
  CreateEventSchema, UpdateEventSchema, CreateGuestSchema, UpdateGuestSchema, FlushBodySchema
])

export interface BuildOptions {
  /** Where log lines go instead of stdout (tests read them). */
  logStream?: LogStream
}

export function serverOptions (config: Config, { logStream }: BuildOptions = {}): FastifyServerOptions {
  return {
    logger: loggerOptions(config, logStream),
    requestIdHeader: 'x-request-id',
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    bodyLimit: BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true },
    schemaErrorFormatter: formatSchemaErrors
  }
}

/** The whole application, ready to `listen` (server.ts) or to `inject` into (tests). */
export async function buildApp (config: Config, options: BuildOptions = {}) {
  const app = Fastify(serverOptions(config, options)).withTypeProvider<TypeBoxTypeProvider>()
  app.decorate('config', config)
  app.setValidatorCompiler(createValidatorCompiler())
  // A JSON API: anything but JSON is 415, not a string that fails validation as "not an object".
  app.removeContentTypeParser(['text/plain'])

  await app.register(errors)
  await app.register(httpCaching)
  await app.register(drain)
  await app.register(securityHeaders)
  await app.register(auth)
  await app.register(postgres)
  await app.register(requestDb)
  if (config.usesRedis) await app.register(redis)
  await app.register(cache)
  await app.register(rateLimit)
  if (config.METRICS) await app.register(metrics)
  await app.register(cachePanel)
  // After what observes the cache, so that they hear of the first epoch, taken at boot.
  if (config.CACHE_MODE !== 'off' && config.CACHE_DB_INVALIDATION) await app.register(databaseInvalidation)
  if (config.DOCS) await app.register(swagger)

  await app.register(healthRoutes)
  await app.register(eventRoutes, { prefix: '/events' })
  await app.register(guestRoutes, { prefix: '/guests' })
  return app
}
