// The instruction count: each counted mode's app, and the ceiling, in a process of its own under
// callgrind; warmed uninstrumented, then each kind of request counted over a fixed number of
// requests, every one of which must be what it is counted as (a hit is `X-Cache: HIT`).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Encoding } from '../src/cache/encodings.ts'
import { NODE_FLAGS, startCountedServer, type CountedServer } from './callgrind.ts'
import { summariseInstructions, type InstructionResult } from './instruction-results.ts'
import {
  BURST, COUNTED_ENDPOINTS, COUNTED_ENV, COUNTED_MODES, DATASET, HITS, LOADED_HITS, MISSES, PROCESSES_AT_ONCE,
  SETTLE_MS, UNCACHED, type CountedEndpoint, type Sizes
} from './instruction-workload.ts'
import { dropDataset, prepareDataset } from './provision.ts'
import { writeCeilingBodies } from './ceiling-bodies.ts'
import { burstClient, describeTally, sendInTurn, type BurstClient } from './requests.ts'
import { BASELINE_MODE, CEILING, ceilingPath, encodingHeaders, type Mode } from './scenarios.ts'
import { APP, CEILING_SERVER, serverEnv } from './servers.ts'

/**
 * Hits and misses of a cache mode; `uncached`: the cache off; the ceiling's requests count as hits.
 * `loaded`: hits that arrive in bursts of BURST at once, as under load, where `hit` arrives one at a time.
 */
export type CountKind = 'hit' | 'loaded' | 'miss' | 'uncached'

export interface InstructionCount {
  mode: string
  endpoint: string
  /** The coding the requests accepted (absent in older files: identity). */
  encoding?: Encoding
  kind: CountKind
  /** Requests per window. */
  requests: number
  /** Instructions each window counted. */
  windows: number[]
  /** The cheapest window's instructions per request. */
  perRequest: number
}

export interface CountSetup {
  databaseUrl: string
  redisUrl: string | undefined
  /** The modes to count besides the baseline (which is always counted: its bytes are the ceiling's). */
  modes: readonly Mode[]
  /**
   * The codings hits are counted in. Identity always is: misses and uncached requests are counted
   * in it only (a miss's compression is timed by the rounds' run instead, see compression-cost.ts).
   */
  encodings: readonly Encoding[]
}

/** Seeds the count's own dataset (the same whatever the run's sizes), counts, and drops it again. */
export async function measureInstructions (
  postgresUrl: string,
  setup: Omit<CountSetup, 'databaseUrl'>
): Promise<InstructionResult> {
  console.log(`\ncounting instructions (callgrind) on ${DATASET.events} events × ${DATASET.guestsPerEvent} guests…`)
  const databaseUrl = await prepareDataset(postgresUrl, DATASET.events, DATASET.guestsPerEvent)
  try {
    const counts = await countInstructions({ ...setup, databaseUrl })
    const sizes = { hits: HITS, loadedHits: LOADED_HITS, burst: BURST, misses: MISSES, uncached: UNCACHED }
    const encodings = countedEncodings(setup.encodings)
    const protocol = { dataset: DATASET, ...sizes, settleMs: SETTLE_MS, nodeFlags: NODE_FLAGS, encodings }
    return { protocol, counts, summary: summariseInstructions(counts) }
  } finally {
    await dropDataset(postgresUrl, databaseUrl)
  }
}

/**
 * Counts every mode of `setup` and the ceiling, PROCESSES_AT_ONCE processes at a time: a count
 * does not depend on what else runs, only the wall time does. The ceiling starts once the
 * baseline has given it its bytes.
 */
export async function countInstructions (setup: CountSetup): Promise<InstructionCount[]> {
  const modes = COUNTED_MODES.filter((mode) => mode.name === BASELINE_MODE || setup.modes.includes(mode))
  const encodings = countedEncodings(setup.encodings)
  const targets = countedTargets(encodings)
  const bodies = await mkdtemp(join(tmpdir(), 'eventcache-ceiling-'))
  let saved: () => void = () => {}
  const bodiesSaved = new Promise<void>((resolve) => { saved = resolve })
  const countApp = (mode: Mode) => async () => {
    const env = { ...serverEnv(mode, setup), ...COUNTED_ENV }
    return withServer(APP, env, async (server) => {
      if (mode.name === BASELINE_MODE) {
        await saveBodies(server, bodies)
        saved()
      }
      return countMode(server, targets, mode.name, mode.env.CACHE_MODE !== 'off')
    })
  }
  const countCeiling = async () => {
    await bodiesSaved
    const sources = await Promise.all(COUNTED_ENDPOINTS.map(async (endpoint) => {
      return { name: endpoint.name, route: endpoint.ceilingRoute, identity: await readFile(bodyFile(bodies, endpoint)) }
    }))
    const written = await writeCeilingBodies(bodies, sources, encodings)
    const env = { CEILING_BODIES: JSON.stringify(written.map((body) => body.body)) }
    return withServer(CEILING_SERVER, env, (server) => countMode(server, targets, CEILING, false))
  }
  try {
    const counted = await inParallel([...modes.map(countApp), countCeiling], PROCESSES_AT_ONCE)
    return counted.flat()
  } finally {
    saved()
    await rm(bodies, { recursive: true, force: true })
  }
}

/**
 * Runs the tasks, at most `limit` at once, in order of start; the results in the tasks' order. After
 * a failure no task starts, and the error is thrown once those running have finished (and stopped
 * their servers).
 */
async function inParallel<Result> (tasks: ReadonlyArray<() => Promise<Result>>, limit: number): Promise<Result[]> {
  const results: Result[] = []
  let next = 0
  let failed = false
  const worker = async () => {
    while (next < tasks.length && !failed) {
      const index = next++
      results[index] = await tasks[index]!().catch((error: unknown) => {
        failed = true
        throw error
      })
    }
  }
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, tasks.length) }, worker))
  const failure = settled.find((outcome) => outcome.status === 'rejected')
  if (failure) throw failure.reason
  return results
}

async function withServer<Result> (
  script: string,
  env: Record<string, string>,
  use: (server: CountedServer) => Promise<Result>
): Promise<Result> {
  const server = await startCountedServer(script, env)
  try {
    return await use(server)
  } finally {
    await server.stop()
  }
}

const bodyFile = (directory: string, endpoint: CountedEndpoint) => join(directory, `${endpoint.name}.json`)

/** Identity, then the other codings asked for. */
function countedEncodings (encodings: readonly Encoding[]): Encoding[] {
  return ['identity', ...encodings.filter((encoding) => encoding !== 'identity')]
}

/** An endpoint counted with requests accepting one coding. */
interface CountedTarget {
  endpoint: CountedEndpoint
  encoding: Encoding
}

function countedTargets (encodings: readonly Encoding[]): CountedTarget[] {
  return encodings.flatMap((encoding) => COUNTED_ENDPOINTS.map((endpoint) => ({ endpoint, encoding })))
}

async function saveBodies (server: CountedServer, directory: string): Promise<void> {
  for (const endpoint of COUNTED_ENDPOINTS) {
    const response = await fetch(server.url + endpoint.hitPath)
    await writeFile(bodyFile(directory, endpoint), Buffer.from(await response.arrayBuffer()))
  }
}

interface Batch {
  kind: CountKind
  paths: string[]
  /** The `X-Cache` every response must carry (`none`: no header, the ceiling). */
  cache: string
  /** Sent in bursts (`loaded`), or one at a time. */
  inBursts: boolean
}

/** One kind of request on one endpoint: its warm-up, one window to run again once instrumented, its windows. */
interface KindPlan {
  warm: Batch
  rewarm: Batch
  windows: Batch[]
}

/**
 * One mode's plan on an endpoint in a coding: the request that fills the hit path, then per kind
 * (the hit or uncached request first, the loaded hit next, the miss last) what warms it and what
 * is counted. Miss paths are never reused: each batch's follow the ones before. In another coding
 * than identity only hits are counted, on the entry identity's fill stored (every coding at once).
 */
function plan ({ endpoint, encoding }: CountedTarget, mode: string, cached: boolean): {
  fill: Batch[]
  kinds: KindPlan[]
} {
  const hitPath = mode === CEILING ? ceilingPath(encoding, endpoint.hitPath) : endpoint.hitPath
  const repeat = (times: number) => Array.from({ length: times }, () => hitPath)
  let misses = 0
  const newPaths = (times: number) => Array.from({ length: times }, () => endpoint.missPath(++misses))
  const answer = cached ? 'HIT' : mode === CEILING ? 'none' : 'OFF'
  const kind = (name: CountKind, sizes: Sizes, cache: string, paths: (n: number) => string[]): KindPlan => {
    const batch = (size: number) => ({ kind: name, cache, paths: paths(size), inBursts: name === 'loaded' })
    return {
      warm: batch(sizes.warm),
      rewarm: batch(sizes.window),
      windows: Array.from({ length: sizes.windows }, () => batch(sizes.window))
    }
  }
  const identity = encoding === 'identity'
  if (answer === 'OFF') return { fill: [], kinds: identity ? [kind('uncached', UNCACHED, answer, repeat)] : [] }
  const kinds = [kind('hit', HITS, answer, repeat), kind('loaded', LOADED_HITS, answer, repeat)]
  if (cached && identity) kinds.push(kind('miss', MISSES, 'MISS', newPaths))
  const fill: Batch[] = cached && identity ? [{ kind: 'miss', paths: repeat(1), cache: 'MISS', inBursts: false }] : []
  return { fill, kinds }
}

/**
 * Warms every endpoint (misses before hits, so that the collections the misses' garbage calls for
 * are over before a hit is counted), switches instrumentation on, then counts every endpoint's
 * hits, then every endpoint's misses, each kind's windows right after one uncounted window of the
 * same requests.
 */
async function countMode (
  server: CountedServer,
  targets: readonly CountedTarget[],
  mode: string,
  cached: boolean
): Promise<InstructionCount[]> {
  const bursts = burstClient(server.url, BURST)
  try {
    return await countPlans(server, { mode, bursts }, targets.map((target) => {
      return { ...target, ...plan(target, mode, cached) }
    }).filter((planned) => planned.kinds.length > 0))
  } finally {
    bursts.close()
  }
}

/** The mode being counted and the connections its bursts are sent on. */
interface Sender {
  mode: string
  bursts: BurstClient
}

type EndpointPlan = ReturnType<typeof plan> & CountedTarget

async function countPlans (server: CountedServer, sender: Sender, plans: EndpointPlan[]): Promise<InstructionCount[]> {
  const { mode } = sender
  for (const target of plans) {
    for (const batch of [...target.fill, ...target.kinds.toReversed().map((kind) => kind.warm)]) {
      await send(server, sender, target, batch)
    }
  }
  await server.instrument()
  // valgrind translates the code again with its counters in, and for a while requests run many times
  // slower: what a process does per second of wall time (timers, V8's delayed tasks) then weighs on
  // each. Hits on every endpoint, one at a time and in bursts, uncounted, until that has settled.
  const settled = Date.now() + SETTLE_MS
  while (Date.now() < settled) {
    for (const target of plans) {
      for (const { rewarm } of target.kinds.filter((kind) => kind.rewarm.kind !== 'miss')) {
        await send(server, sender, target, rewarm)
      }
    }
  }
  const counts: InstructionCount[] = []
  const kinds = Math.max(...plans.map((target) => target.kinds.length))
  for (let index = 0; index < kinds; index++) {
    for (const target of plans.filter((candidate) => index < candidate.kinds.length)) {
      const { endpoint, encoding } = target
      const { rewarm, windows } = target.kinds[index]!
      await send(server, sender, target, rewarm)
      const instructions: number[] = []
      for (const batch of windows) instructions.push(await server.count(() => send(server, sender, target, batch)))
      const requests = rewarm.paths.length
      const perRequest = Math.min(...instructions) / requests
      counts.push({
        mode, endpoint: endpoint.name, encoding, kind: rewarm.kind, requests, windows: instructions, perRequest
      })
      console.log(`[instructions] ${mode.padEnd(8)} ${endpoint.name.padEnd(13)} ${encoding.padEnd(8)} ` +
        `${rewarm.kind.padEnd(10)} ${Math.round(perRequest).toLocaleString('en-US').padStart(11)} per request`)
    }
  }
  return counts
}

/** Sends a batch; every response must be a 200 with the batch's `X-Cache`, or the count would be of something else. */
async function send (server: CountedServer, sender: Sender, target: CountedTarget, batch: Batch): Promise<void> {
  const { mode, bursts } = sender
  const headers = encodingHeaders(target.encoding)
  const tally = batch.inBursts
    ? await bursts.send(batch.paths, server.hold, headers)
    : await sendInTurn(server.url, batch.paths, headers)
  const expected = batch.paths.length
  if (tally.statuses.get(200) !== expected || tally.cache.get(batch.cache) !== expected) {
    throw new Error(`${mode} ${target.endpoint.name} ${target.encoding} ${batch.kind}: expected ${expected} × 200 ` +
      `with X-Cache ${batch.cache}, got ${describeTally(tally)}`)
  }
}
