// The ceiling: bare Fastify routes that send exact bytes the app serves, each from a constant
// Buffer. Nothing the app does on a hit can be cheaper, so it is the 100% mark.
// CEILING_BODIES is a JSON object from a route (`/events`, `/events/:id`) to the file of its bytes.
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'

const bodies = JSON.parse(process.env.CEILING_BODIES ?? '{}') as Record<string, string>
const app = Fastify({ logger: false })
app.get('/health/live', async () => ({ status: 'ok' }))
for (const [route, file] of Object.entries(bodies)) {
  const body = readFileSync(file)
  app.get(route, (_request, reply) => {
    reply.header('content-type', 'application/json; charset=utf-8').send(body)
  })
}
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) })
