import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  postgres: Type.Optional(Type.Union([Type.Literal('up'), Type.Literal('down')]))
})

const tags = ['health']

/**
 * `/health/live`: the process answers (restart it if not). `/health` (readiness): it can serve,
 * which needs PostgreSQL (take it out of the load balancer if not).
 */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health/live', {
    schema: {
      tags,
      summary: 'Liveness',
      response: { 200: HealthSchema }
    }
  }, async function liveness () {
    return { status: 'ok' as const }
  })

  app.get('/health', {
    schema: {
      tags,
      summary: 'Readiness: PostgreSQL answers',
      response: { 200: HealthSchema, 503: HealthSchema }
    }
  }, async function readiness (request, reply) {
    try {
      await request.db.query({ text: 'SELECT 1' })
      return { status: 'ok' as const, postgres: 'up' as const }
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check: PostgreSQL does not answer')
      return reply.code(503).send({ status: 'unavailable', postgres: 'down' })
    }
  })
}

export default health
