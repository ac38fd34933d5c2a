import { formatNumber } from '../format.ts'
import { runLoad, type LoadResult } from '../harness/load.ts'
import type { ServerProcess } from '../harness/processes.ts'
import type { Encoding } from '../product.ts'
import type { Row } from '../results.ts'
import {
  CEILING_ENDPOINT, ceilingPath, encodingHeaders, isReference, type Endpoint, type Mode
} from '../scenarios.ts'

/** One row of the matrix: a mode (or a reference) on an endpoint, its requests accepting one coding. */
export interface PlannedRow {
  mode: string
  endpoint: Endpoint
  encoding: Encoding
}

/**
 * Every mode on every endpoint in every coding, endpoint by endpoint and coding by coding, with
 * the references (the ceiling, the header ceiling, the Redis peer: those started) after the modes
 * on the ceiling's endpoint.
 */
export function planRows (
  modes: readonly Mode[],
  endpoints: readonly Endpoint[],
  encodings: readonly Encoding[],
  references: readonly string[]
): PlannedRow[] {
  const plan: PlannedRow[] = []
  for (const endpoint of endpoints) {
    for (const encoding of encodings) {
      for (const mode of modes) plan.push({ mode: mode.name, endpoint, encoding })
      if (endpoint.name === CEILING_ENDPOINT) for (const mode of references) plan.push({ mode, endpoint, encoding })
    }
  }
  return plan
}

/** What one row's load sends: its path (a reference's route for the coding) and its `Accept-Encoding`. */
function rowLoad ({ mode, endpoint, encoding }: PlannedRow, dataset: RoundsSetup['dataset']) {
  const path = endpoint.path(dataset)
  return {
    path: isReference(mode) ? () => ceilingPath(encoding, path()) : path,
    headers: encodingHeaders(encoding)
  }
}

/** Row indexes in the order round `round` measures them: rotated, so no row always runs first or last. */
export function roundOrder (rows: number, round: number): number[] {
  return Array.from({ length: rows }, (_, i) => (i + round) % rows)
}

export interface RoundsSetup {
  plan: readonly PlannedRow[]
  servers: (mode: string) => ServerProcess[]
  dataset: { events: number, guestsPerEvent: number }
  rounds: number
  durationSeconds: number
  connections: number
}

/** Warms every server on every endpoint, then measures each row once per round. */
export async function measureRounds (setup: RoundsSetup): Promise<Row[]> {
  const { plan, servers, dataset, rounds, durationSeconds, connections } = setup
  const rows: Row[] = plan.map(({ mode, endpoint, encoding }) => {
    return { mode, endpoint: endpoint.name, encoding, rounds: [] }
  })
  // JIT, pools and caches warm before anything is measured.
  for (const row of plan) {
    await runLoad(servers(row.mode), { durationSeconds: 1, connections, ...rowLoad(row, dataset) })
  }
  for (let round = 0; round < rounds; round++) {
    for (const [step, index] of roundOrder(plan.length, round).entries()) {
      const row = plan[index]!
      const result = await runLoad(servers(row.mode), { durationSeconds, connections, ...rowLoad(row, dataset) })
      rows[index]!.rounds.push(result)
      const position = `round ${round + 1}/${rounds} ${String(step + 1).padStart(2)}/${plan.length}`
      console.log(`[${position}] ${progressLine(row, result)}`)
    }
  }
  return rows
}

function progressLine ({ mode, endpoint, encoding }: PlannedRow, result: LoadResult): string {
  const hits = (result.cacheHits / Math.max(1, result.requests)) * 100
  return `${mode.padEnd(15)} ${endpoint.name.padEnd(13)} ${encoding.padEnd(8)} ` +
    `${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  ` +
    `p99 ${formatNumber(result.latencyMs.p99).padStart(4)} ms  ` +
    `${result.cpuMicrosPerRequest.toFixed(0).padStart(5)} µs CPU/req ` +
    `(load generator ${result.generatorCpuMicrosPerRequest.toFixed(0)})  hits ${hits.toFixed(0)}%`
}
