import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { ReadPreconditionHeadersSchema } from '../src/schemas/common.ts'
import { cacheDescription } from '../src/start-banner.ts'

/** OpenAPI generated from the route schemas, with Swagger UI at /docs. */
export default fp(async function swagger (app) {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'eventcache',
        description: `Events and guests on PostgreSQL; cache: ${cacheDescription(app.config)}. ` +
          'Responses carry X-DB-Queries and Server-Timing.',
        version: '0.1.0'
      },
      servers: [{ url: app.config.PUBLIC_URL }],
      tags: [
        { name: 'events', description: 'Events' },
        { name: 'guests', description: 'Guests, each with its event nested' },
        { name: 'health', description: 'Liveness and readiness' }
      ]
    },
    // A cached read's If-None-Match is documented here rather than validated by a headers schema,
    // which would cost every hit a validation.
    transform: ({ schema, url, route }) => ({
      url,
      schema: route.config?.cachedRead ? { ...schema, headers: ReadPreconditionHeadersSchema } : schema
    })
  })
  // staticCSP: Swagger UI's pages carry a CSP that allows its own scripts and styles, over Helmet's.
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true })
}, { name: 'swagger' })
