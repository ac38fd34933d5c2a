// The instruction count: each counted mode's app, and each reference (the ceiling, the header ceiling,
// the Redis peer), in a process of its own under callgrind, a few at a time; what each process is
// sent and counted is count-server.ts's.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { APP_SERVER, type Encoding } from '../product.ts'
import { NODE_FLAGS, startCountedServer, type CountedServer } from './callgrind.ts'
import { writeCeilingBodies, type WrittenBody } from '../ceiling/bodies.ts'
import { dropDataset, prepareDataset } from '../harness/provision.ts'
import { CEILING_SERVER, referenceEnv, serverEnv } from '../harness/servers.ts'
import { BASELINE_MODE, referencesWith, type Mode, type Reference } from '../scenarios.ts'
import { countMode, type CountedTarget } from './count-server.ts'
import { atUpperLevel, cheaperPerRow, unsteady } from './process-level.ts'
import { summariseInstructions, type InstructionCount, type InstructionResult } from './results.ts'
import {
  BURST, COUNTED_ENDPOINTS, COUNTED_ENV, COUNTED_MODES, DATASET, HITS, LOADED_HITS, MISSES, PROCESSES_AT_ONCE,
  SETTLE_MS, UNCACHED, type CountedEndpoint
} from './workload.ts'

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
 * Counts every mode of `setup` and the references (the Redis peer with a Redis only),
 * PROCESSES_AT_ONCE processes at a time: a count does not depend on what else runs, only the wall
 * time does, except a reference's: the references are counted after the modes, one at a time and
 * alone. A reference does so little per request that whatever a slow wall clock adds weighs on it:
 * counted beside another process its windows have cost up to several times what they cost alone.
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
    return withServer(APP_SERVER, env, async (server) => {
      if (mode.name === BASELINE_MODE) {
        await saveBodies(server, bodies)
        saved()
      }
      return countMode(server, targets, mode.name, mode.env.CACHE_MODE !== 'off')
    })
  }
  // Written once, for every reference, when the first needs them.
  let written: Promise<WrittenBody[]> | undefined
  const writeBodies = async () => {
    await bodiesSaved
    const sources = await Promise.all(COUNTED_ENDPOINTS.map(async (endpoint) => {
      return { name: endpoint.name, route: endpoint.ceilingRoute, identity: await readFile(bodyFile(bodies, endpoint)) }
    }))
    return writeCeilingBodies(bodies, sources, encodings)
  }
  const countReference = (reference: Reference) => async () => {
    const env = referenceEnv(reference, await (written ??= writeBodies()), setup.redisUrl)
    return withServer(CEILING_SERVER, env, (server) => countMode(server, targets, reference.name, false))
  }
  const references = referencesWith(setup.redisUrl !== undefined)
  try {
    let counted = (await inParallel(modes.map(countApp), PROCESSES_AT_ONCE)).flat()
    const upper = modes.filter((mode) => atUpperLevel(counted, mode.name))
    if (upper.length > 0) {
      console.log(`[instructions] ${upper.map((mode) => mode.name).join(', ')}: a loaded hit cost more than one ` +
        'alone (the process\'s upper level): counted again on a new process, the cheaper count kept per row')
      counted = cheaperPerRow(counted, (await inParallel(upper.map(countApp), PROCESSES_AT_ONCE)).flat())
    }
    let referenceCounts = (await inParallel(references.map(countReference), 1)).flat()
    const unsteadyReferences = references.filter((reference) => unsteady(referenceCounts, reference.name))
    if (unsteadyReferences.length > 0) {
      console.log(`[instructions] ${unsteadyReferences.map((reference) => reference.name).join(', ')}: windows far ` +
        'apart: counted again on a new process, the cheaper count kept per row')
      const again = (await inParallel(unsteadyReferences.map(countReference), 1)).flat()
      referenceCounts = cheaperPerRow(referenceCounts, again)
    }
    return [...counted, ...referenceCounts]
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

function countedTargets (encodings: readonly Encoding[]): CountedTarget[] {
  return encodings.flatMap((encoding) => COUNTED_ENDPOINTS.map((endpoint) => ({ endpoint, encoding })))
}

async function saveBodies (server: CountedServer, directory: string): Promise<void> {
  for (const endpoint of COUNTED_ENDPOINTS) {
    const response = await fetch(server.url + endpoint.hitPath)
    await writeFile(bodyFile(directory, endpoint), Buffer.from(await response.arrayBuffer()))
  }
}
