import { formatNumber } from './format.ts'
import { runLoad, type LoadResult } from './load.ts'
import type { ServerProcess } from './processes.ts'
import type { Row } from './results.ts'
import { CEILING, CEILING_ENDPOINT, type Endpoint, type Mode } from './scenarios.ts'

/** One row of the matrix: a mode (or the ceiling) on an endpoint. */
export interface PlannedRow {
  mode: string
  endpoint: Endpoint
}

/** Every mode on every endpoint, endpoint by endpoint, and the ceiling after the modes on its endpoint. */
export function planRows (modes: readonly Mode[], endpoints: readonly Endpoint[]): PlannedRow[] {
  const plan: PlannedRow[] = []
  for (const endpoint of endpoints) {
    for (const mode of modes) plan.push({ mode: mode.name, endpoint })
    if (endpoint.name === CEILING_ENDPOINT) plan.push({ mode: CEILING, endpoint })
  }
  return plan
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
  const rows: Row[] = plan.map(({ mode, endpoint }) => ({ mode, endpoint: endpoint.name, rounds: [] }))
  // JIT, pools and caches warm before anything is measured.
  for (const { mode, endpoint } of plan) {
    await runLoad(servers(mode), { durationSeconds: 1, connections, path: endpoint.path(dataset) })
  }
  for (let round = 0; round < rounds; round++) {
    for (const [step, index] of roundOrder(plan.length, round).entries()) {
      const { mode, endpoint } = plan[index]!
      const result = await runLoad(servers(mode), { durationSeconds, connections, path: endpoint.path(dataset) })
      rows[index]!.rounds.push(result)
      const position = `round ${round + 1}/${rounds} ${String(step + 1).padStart(2)}/${plan.length}`
      console.log(`[${position}] ${progressLine(mode, endpoint.name, result)}`)
    }
  }
  return rows
}

function progressLine (mode: string, endpoint: string, result: LoadResult): string {
  const hits = (result.cacheHits / Math.max(1, result.requests)) * 100
  return `${mode.padEnd(10)} ${endpoint.padEnd(13)} ` +
    `${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  ` +
    `p99 ${formatNumber(result.latencyMs.p99).padStart(4)} ms  ` +
    `${result.cpuMicrosPerRequest.toFixed(0).padStart(5)} µs CPU/req ` +
    `(load generator ${result.generatorCpuMicrosPerRequest.toFixed(0)})  hits ${hits.toFixed(0)}%`
}
