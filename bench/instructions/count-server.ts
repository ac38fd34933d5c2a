// One server's instruction count: warmed uninstrumented, then each kind of request counted over a
// fixed number of requests, every one of which must be what it is counted as (a hit is `X-Cache: HIT`).
import type { Encoding } from '../product.ts'
import { ceilingPath, encodingHeaders, HEADER_CEILING, isReference } from '../scenarios.ts'
import type { CountedServer } from './callgrind.ts'
import { burstClient, describeTally, sendInTurn, type BurstClient } from './requests.ts'
import type { CountKind, InstructionCount } from './results.ts'
import { BURST, HITS, LOADED_HITS, MISSES, SETTLE_MS, UNCACHED, type CountedEndpoint, type Sizes } from './workload.ts'

/** An endpoint counted with requests accepting one coding. */
export interface CountedTarget {
  endpoint: CountedEndpoint
  encoding: Encoding
}

interface Batch {
  kind: CountKind
  paths: string[]
  /** The `X-Cache` every response must carry (`none`: no header, as the bare ceiling and the Redis peer send). */
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
  const reference = isReference(mode)
  const hitPath = reference ? ceilingPath(encoding, endpoint.hitPath) : endpoint.hitPath
  const repeat = (times: number) => Array.from({ length: times }, () => hitPath)
  let misses = 0
  const newPaths = (times: number) => Array.from({ length: times }, () => endpoint.missPath(++misses))
  // The header ceiling sends a hit's X-Cache with the rest of a hit's headers.
  const answer = cached || mode === HEADER_CEILING ? 'HIT' : reference ? 'none' : 'OFF'
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
export async function countMode (
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
      const meanPerRequest = instructions.reduce((sum, window) => sum + window, 0) / instructions.length / requests
      const { kind } = rewarm
      const windowsCounted = { requests, windows: instructions, perRequest, meanPerRequest }
      counts.push({ mode, endpoint: endpoint.name, encoding, kind, ...windowsCounted })
      console.log(`[instructions] ${mode.padEnd(15)} ${endpoint.name.padEnd(13)} ${encoding.padEnd(8)} ` +
        `${kind.padEnd(10)} ${Math.round(perRequest).toLocaleString('en-US').padStart(11)} per request`)
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
