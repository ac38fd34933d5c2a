// npm run bench: every cache mode on the same endpoints and data, side by side with a
// constant-bytes ceiling, in rounds, with a terminal table, JSON/Markdown/HTML reports, and a
// ratio gate for CI (--check). See the README's "Benchmarks" section.
import { appendFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseBenchArgs, USAGE, UsageError, type BenchOptions } from './args.ts'
import { checkThresholds, compareRuns, formatCheck, formatNumber, type Thresholds } from './check.ts'
import { describeEnvironment } from './environment.ts'
import { measureInvalidationLag } from './lag.ts'
import { runLoad } from './load.ts'
import { runMix } from './mix.ts'
import { measureProcessScaling, wrkAvailable } from './process-scaling.ts'
import { startServer, type ServerProcess } from './processes.ts'
import { dropDataset, prepareDataset, provision } from './provision.ts'
import { processScalingLine, renderHtml, renderMarkdown, renderTable } from './report.ts'
import { summarise, type BenchResults, type DatasetResult, type Row } from './results.ts'
import { CEILING, CEILING_ENDPOINT, ENDPOINTS, MODES, type Mode } from './scenarios.ts'

const APP = new URL('../src/server.js', import.meta.url).pathname
const CEILING_SERVER = new URL('./ceiling-server.js', import.meta.url).pathname
const THRESHOLDS = new URL('../../bench/thresholds.json', import.meta.url)

let options: BenchOptions
try {
  options = parseBenchArgs(process.argv.slice(2))
} catch (error) {
  if (!(error instanceof UsageError)) throw error
  console.error(`${error.message}\n\n${USAGE}`)
  process.exit(2)
}

if (options.compare) {
  const [before, after] = await Promise.all(options.compare.map(async (file) => JSON.parse(await readFile(file, 'utf8')) as BenchResults))
  console.log(compareRuns(before!, after!))
  process.exit(0)
}

const startedAt = new Date()
const services = await provision()
const environment = await describeEnvironment(services.postgresUrl, services.redisUrl)
const modes = MODES.filter((mode) => !mode.needsRedis || services.redisUrl !== undefined)
const withWrk = await wrkAvailable()
if (!withWrk) services.notes.push('wrk is not on the PATH: process scaling (one vs two tiered processes under wrk) not measured')
const endpoints = ENDPOINTS.filter((endpoint) => !options.endpoints || options.endpoints.includes(endpoint.name))
const measureMix = !options.endpoints || options.endpoints.includes('mix')
console.log(services.notes.join('\n'))

const datasets: DatasetResult[] = []
try {
  for (const events of options.events) datasets.push(await measureDataset(events))
} finally {
  await services.release()
}

const results: BenchResults = {
  format: 1,
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  environment,
  options: { durationSeconds: options.durationSeconds, connections: options.connections, rounds: options.rounds, quick: options.quick },
  notes: services.notes,
  datasets
}

for (const dataset of datasets) {
  console.log(`\n${dataset.events} events × ${dataset.guestsPerEvent} guests\n${renderTable(dataset.summary)}`)
}
const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
await mkdir(options.outputDir, { recursive: true })
const base = join(options.outputDir, stamp)
const markdown = renderMarkdown(results)
await writeFile(`${base}.json`, JSON.stringify(results, null, 2))
await writeFile(`${base}.md`, markdown)
await writeFile(`${base}.html`, renderHtml(results))
if (process.env.GITHUB_STEP_SUMMARY) await appendFile(process.env.GITHUB_STEP_SUMMARY, `${markdown}\n`)
console.log(`\nresults: ${base}.json, ${base}.md, ${base}.html`)

if (options.check) {
  const thresholds = JSON.parse(await readFile(THRESHOLDS, 'utf8')) as Thresholds
  const outcomes = checkThresholds(results, thresholds)
  console.log(`\n${formatCheck(outcomes)}`)
  if (outcomes.some((outcome) => outcome.status === 'failed')) process.exit(1)
}
process.exit(0)

async function measureDataset (events: number): Promise<DatasetResult> {
  const { guestsPerEvent, durationSeconds, connections, rounds } = options
  console.log(`\nseeding ${events} events × ${guestsPerEvent} guests…`)
  const databaseUrl = await prepareDataset(services.postgresUrl, events, guestsPerEvent)
  // Each mode's processes: one, or several sharing a Redis and the database (tiered×2).
  const servers = new Map<string, ServerProcess[]>()
  try {
    for (const mode of modes) {
      const env = serverEnv(mode, databaseUrl)
      const instances: ServerProcess[] = []
      servers.set(mode.name, instances)
      for (let i = 0; i < (mode.instances ?? 1); i++) instances.push(await startServer(APP, env))
    }
    // The ceiling sends the exact bytes the app serves for the events list.
    const listBytes = Buffer.from(await (await fetch(`${servers.get('off+join')![0]!.url}/events?limit=100`)).arrayBuffer())
    const bodyFile = join(await mkdtemp(join(tmpdir(), 'eventcache-bench-')), 'events.json')
    await writeFile(bodyFile, listBytes)
    servers.set(CEILING, [await startServer(CEILING_SERVER, { CEILING_BODY_FILE: bodyFile })])

    const plan: Array<{ mode: string, endpoint: (typeof ENDPOINTS)[number] }> = []
    for (const endpoint of endpoints) {
      for (const mode of modes) plan.push({ mode: mode.name, endpoint })
      if (endpoint.name === CEILING_ENDPOINT) plan.push({ mode: CEILING, endpoint })
    }
    const rows: Row[] = plan.map(({ mode, endpoint }) => ({ mode, endpoint: endpoint.name, rounds: [] }))
    const dataset = { events, guestsPerEvent }

    // Warm every server on every endpoint (JIT, pools, cache) before anything is measured.
    for (const { mode, endpoint } of plan) await runLoad(servers.get(mode)!, { durationSeconds: 1, connections, path: endpoint.path(dataset) })

    for (let round = 0; round < rounds; round++) {
      // Rotate, so no row always runs first or last in its round.
      const order = plan.map((_, i) => (i + round) % plan.length)
      for (const [step, index] of order.entries()) {
        const { mode, endpoint } = plan[index]!
        const result = await runLoad(servers.get(mode)!, { durationSeconds, connections, path: endpoint.path(dataset) })
        rows[index]!.rounds.push(result)
        console.log(`[round ${round + 1}/${rounds} ${String(step + 1).padStart(2)}/${plan.length}] ${mode.padEnd(10)} ${endpoint.name.padEnd(13)} ` +
          `${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  p99 ${formatNumber(result.latencyMs.p99).padStart(4)} ms  ` +
          `${result.cpuMicrosPerRequest.toFixed(0).padStart(5)} µs CPU/req (load generator ${result.generatorCpuMicrosPerRequest.toFixed(0)})  hits ${((result.cacheHits / Math.max(1, result.requests)) * 100).toFixed(0)}%`)
      }
    }

    const mix: DatasetResult['mix'] = []
    if (measureMix) {
      // One instance per mode: across instances, tiered mode's stale window is measured below.
      for (const mode of modes.filter((candidate) => candidate.name !== 'off+naive' && (candidate.instances ?? 1) === 1)) {
        const result = await runMix(servers.get(mode.name)![0]!, { durationSeconds, connections, hotEvents: 100, writeShare: 0.05 })
        mix.push({ mode: mode.name, ...result })
        console.log(`[mix] ${mode.name.padEnd(10)} ${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  hits ${(result.hitRatio * 100).toFixed(0)}%  stale reads ${result.staleReads}`)
      }
    }
    const pair = servers.get('tiered×2')
    let invalidationLag: DatasetResult['invalidationLag']
    if (pair) {
      invalidationLag = await measureInvalidationLag(pair, { samples: options.quick ? 50 : 200, hotEvents: 100 })
      console.log(`[lag] tiered×2: write on instance 1 → instance 2 serves it: p50 ${invalidationLag.p50} ms, p99 ${invalidationLag.p99} ms, max ${invalidationLag.max} ms (${invalidationLag.samples} writes)`)
    }
    let processScaling: DatasetResult['processScaling']
    const single = servers.get('tiered')?.[0]
    if (pair && single && withWrk) {
      // Five rounds of 4 s at least: a ratio of two short runs on 2 cores spreads wide (1.23-1.92 in 5 rounds of 2 s).
      processScaling = await measureProcessScaling(single, pair, { rounds: Math.max(rounds, 5), durationSeconds: Math.max(durationSeconds, 4), connections, path: '/events?limit=100' })
      console.log(`[scaling] ${processScalingLine(processScaling)}`)
    }
    return { events, guestsPerEvent, eventsListBytes: listBytes.length, rows, summary: summarise(rows, modes), mix, ...(invalidationLag && { invalidationLag }), ...(processScaling && { processScaling }) }
  } finally {
    for (const instances of servers.values()) for (const server of instances) await server.stop()
    await dropDataset(services.postgresUrl, databaseUrl)
  }
}

function serverEnv (mode: Mode, databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    PUBLIC_URL: 'http://bench.local',
    ...mode.env,
    // One load generator is one client IP: the write limit would turn the mix's writes into 429s.
    RATE_LIMIT_WRITES: '1000000000',
    ...(mode.needsRedis && { REDIS_URL: services.redisUrl!, CACHE_PREFIX: `bench-${process.pid}-${MODES.indexOf(mode)}-${Date.now()}` })
  }
}
