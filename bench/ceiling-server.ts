// The ceiling: a bare Fastify route that sends the cached events list's exact bytes from a
// constant Buffer. Nothing the app does on a hit can be cheaper, so it is the 100% mark.
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'

const body = readFileSync(process.env.CEILING_BODY_FILE ?? '')
const app = Fastify({ logger: false })
app.get('/health/live', async () => ({ status: 'ok' }))
app.get('/events', (_request, reply) => {
  reply.header('content-type', 'application/json; charset=utf-8').send(body)
})
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) })
