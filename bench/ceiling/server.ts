// The ceiling server: one process serving exact bytes the app serves, as one kind (CEILING_KIND:
// `bare`, the default, `headers` or `getBuffer`, see routes.ts). CEILING_BODIES is a JSON list of
// routes (`/events`, `/br/events/:id`), each with the file of its bytes, their Content-Encoding
// (`identity`: none) and their ETag; `getBuffer` needs REDIS_URL.
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import type { CeilingKind } from '../scenarios.ts'
import { addCeilingRoutes } from './routes.ts'

export interface CeilingBody {
  route: string
  file: string
  encoding: string
  etag: string
}

const KINDS: readonly CeilingKind[] = ['bare', 'headers', 'getBuffer']
const kind = (process.env.CEILING_KIND ?? 'bare') as CeilingKind
if (!KINDS.includes(kind)) throw new Error(`CEILING_KIND must be one of ${KINDS.join(', ')}, not ${kind}`)

const bodies = JSON.parse(process.env.CEILING_BODIES ?? '[]') as CeilingBody[]
const app = Fastify({ logger: false })
app.get('/health/live', async () => ({ status: 'ok' }))
const routes = bodies.map(({ file, ...route }) => ({ ...route, body: readFileSync(file) }))
await addCeilingRoutes(app, kind, routes, process.env.REDIS_URL)
// Closed on SIGTERM, so that the Redis peer deletes its keys.
process.once('SIGTERM', () => {
  app.close().then(() => process.exit(0), () => process.exit(1))
})
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) })
