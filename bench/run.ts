// npm run bench: the same endpoints under each cache mode, side by side with a constant-bytes
// ceiling, in rounds (A B C … A B C …) so every ratio is measured within one round.
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts'
import { migrate } from '../src/db/migrate.ts'
import { seed } from '../src/db/seed.ts'
import { runLoad, type LoadResult } from './load.ts'
import { startServer, type ServerProcess } from './processes.ts'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    'guests-per-event': { type: 'string', default: '10' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' }
  }
})

const APP = new URL('../src/server.js', import.meta.url).pathname
const CEILING = new URL('./ceiling-server.js', import.meta.url).pathname

const adminUrl = process.env.DATABASE_URL ?? (await startEmbeddedPostgres('.data/bench-postgres')).url
const databaseUrl = await prepareDatabase(adminUrl, Number(args.events), Number(args['guests-per-event']))
const redisUrl = process.env.REDIS_URL

const modes: Array<{ name: string, env: Record<string, string> }> = [
  { name: 'off (join)', env: { CACHE_MODE: 'off', QUERY_MODE: 'join' } },
  { name: 'memory', env: { CACHE_MODE: 'memory' } },
  ...(redisUrl ? [{ name: 'redis', env: { CACHE_MODE: 'redis', REDIS_URL: redisUrl, CACHE_PREFIX: `bench-${Date.now()}` } }] : [])
]

const servers = new Map<string, ServerProcess>()
for (const mode of modes) servers.set(mode.name, await startServer(APP, { DATABASE_URL: databaseUrl, ...mode.env }))
const listBytes = Buffer.from(await (await fetch(`${servers.get('memory')!.url}/events?limit=100`)).arrayBuffer())
const bodyFile = join(await mkdtemp(join(tmpdir(), 'eventcache-bench-')), 'events.json')
await writeFile(bodyFile, listBytes)
servers.set('ceiling', await startServer(CEILING, { CEILING_BODY_FILE: bodyFile }))
console.log(`events list: ${listBytes.length} bytes`)

const rows = [...servers.keys()]
const results = new Map<string, LoadResult[]>(rows.map((row) => [row, []]))
for (let round = 0; round < Number(args.rounds); round++) {
  // Rotate the order so no mode always runs first (or last) in a round.
  const order = rows.map((_, i) => rows[(i + round) % rows.length]!)
  for (const row of order) {
    const result = await runLoad(servers.get(row)!, { durationSeconds: Number(args.duration), connections: Number(args.connections), path: '/events?limit=100' })
    results.get(row)!.push(result)
    console.log(`round ${round + 1} ${row.padEnd(12)} ${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  ${result.cpuMicrosPerRequest.toFixed(1).padStart(7)} µs CPU/req  p99 ${result.latencyMs.p99} ms  hits ${result.cacheHits}/${result.requests}`)
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
console.log('\nratios per round (median [min–max]):')
for (const row of rows) {
  const throughput = results.get(row)!.map((result, round) => result.requestsPerSecond / results.get('ceiling')![round]!.requestsPerSecond)
  const cpu = results.get(row)!.map((result, round) => results.get('ceiling')![round]!.cpuMicrosPerRequest / result.cpuMicrosPerRequest)
  const speedup = results.get(row)!.map((result, round) => result.requestsPerSecond / results.get('off (join)')![round]!.requestsPerSecond)
  const show = (xs: number[]) => `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}]`
  console.log(`${row.padEnd(12)} throughput/ceiling ${show(throughput)}  ceiling CPU/row CPU ${show(cpu)}  ×off ${show(speedup)}`)
}

for (const server of servers.values()) await server.stop()
process.exit(0)

async function prepareDatabase (admin: string, events: number, guestsPerEvent: number): Promise<string> {
  const name = `eventcache_bench_${events}_${guestsPerEvent}`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await client.query(`CREATE DATABASE ${name}`)
  await client.end()
  const url = new URL(admin)
  url.pathname = `/${name}`
  const pool = new pg.Pool({ connectionString: url.toString() })
  await migrate(pool)
  await seed(pool, { events, guestsPerEvent, truncate: false })
  await pool.end()
  return url.toString()
}
