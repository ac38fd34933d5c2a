// The ceiling: bare Fastify routes that send exact bytes the app serves, each from a constant
// Buffer. Nothing the app does on a hit can be cheaper, so it is the 100% mark.
// CEILING_BODIES is a JSON list of routes (`/events`, `/br/events/:id`), each with the file of its
// bytes and their Content-Encoding (`identity`: none).
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'

export interface CeilingBody {
  route: string
  file: string
  encoding: string
}

const bodies = JSON.parse(process.env.CEILING_BODIES ?? '[]') as CeilingBody[]
const app = Fastify({ logger: false })
app.get('/health/live', async () => ({ status: 'ok' }))
for (const { route, file, encoding } of bodies) {
  const body = readFileSync(file)
  if (encoding === 'identity') {
    app.get(route, (_request, reply) => {
      reply.header('content-type', 'application/json; charset=utf-8').send(body)
    })
  } else {
    app.get(route, (_request, reply) => {
      reply.header('content-type', 'application/json; charset=utf-8').header('content-encoding', encoding).send(body)
    })
  }
}
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) })
