import type { Encoding } from './product.ts'
import type { CompressionCost } from './steps/compression-cost.ts'
import type { Environment } from './harness/environment.ts'
import type { ExpiryResult } from './steps/expiry.ts'
import type { InstructionResult } from './instructions/results.ts'
import type { LagResult } from './steps/lag.ts'
import type { LoadResult } from './harness/load.ts'
import type { MixResult } from './steps/mix.ts'
import type { ProcessScalingResult } from './steps/process-scaling.ts'
import {
  BASELINE_MODE, CEILING, CEILING_ENDPOINT, encodingOf, HEADER_CEILING, isReference, REDIS_PEER, type Mode
} from './scenarios.ts'
import { median, pairedRatio, spread, type Spread } from './stats.ts'

/** One (mode, endpoint, coding) measured once per round. */
export interface Row {
  mode: string
  endpoint: string
  /** The coding the requests accept (absent in result files from before there were codings: identity). */
  encoding?: Encoding
  rounds: LoadResult[]
}

/** `memory/events-list`, and `memory/events-list/br` for a coding other than identity. */
export function rowName (row: { mode: string, endpoint: string, encoding?: Encoding }): string {
  const encoding = encodingOf(row)
  return `${row.mode}/${row.endpoint}${encoding === 'identity' ? '' : `/${encoding}`}`
}

export interface RowSummary {
  mode: string
  endpoint: string
  encoding: Encoding
  requestsPerSecond: Spread
  latencyMs: { p50: number, p90: number, p99: number, max: number }
  errors: number
  non2xx: number
  hitRatio: number
  queriesPerRequest: number
  bytesPerResponse: number
  cpuMicrosPerRequest: Spread
  /** Throughput over the baseline (off+join) on the same endpoint, paired round by round. */
  speedup: Spread | undefined
  /** Share of the constant-bytes ceiling (events list only): by throughput, and by server CPU per request. */
  ceilingShare: Spread | undefined
  ceilingCpuShare: Spread | undefined
  /**
   * The header ceiling's CPU per request over this row's (events list only): a hit against a server
   * sending the same headers from constants (absent in older files).
   */
  headerCeilingCpuShare?: Spread | undefined
  /** The Redis peer's (a bare ioredis getBuffer route's) CPU per request over this row's (absent in older files). */
  redisPeerCpuShare?: Spread | undefined
  /** Multi-instance rows: throughput over the same mode on one instance, paired round by round. */
  scaling: Spread | undefined
  /** The compressing peer: its server CPU per request over the mode that sends stored representations. */
  cpuOverPrecompressed: Spread | undefined
}

export interface DatasetResult {
  events: number
  guestsPerEvent: number
  eventsListBytes: number
  /** The events list's bytes in each coding measured, as the ceiling sends them (absent in older files). */
  eventsListEncodedBytes?: Partial<Record<Encoding, number>>
  /** What compressing the list pages costs a miss (absent in older files). */
  compression?: CompressionCost[]
  rows: Row[]
  summary: RowSummary[]
  mix: Array<{ mode: string } & MixResult>
  /** The two-instance tiered mode: a write on one instance → the other serves it. */
  invalidationLag?: LagResult
  /** Two instances of each mode: a write committed in SQL → both serve it (absent in older files). */
  databaseLag?: Array<{ mode: string } & LagResult>
  /** Each store mode's hot key expiring under load, with and without refresh-ahead (absent in older files). */
  expiry?: ExpiryResult[]
  /** One tiered process against two, under wrk (when it is on the PATH). */
  processScaling?: ProcessScalingResult
}

export interface BenchResults {
  format: 1
  startedAt: string
  finishedAt: string
  /** How the run was started, e.g. `npm run bench -- --quick` (absent in older result files). */
  command?: string
  environment: Environment
  options: { durationSeconds: number, connections: number, rounds: number, quick: boolean }
  notes: string[]
  /** Empty with --instructions-only. */
  datasets: DatasetResult[]
  /** Instructions per request under callgrind (absent where valgrind was not on the PATH). */
  instructions?: InstructionResult
}

function requestsPerSecond (row: Row): number[] {
  return row.rounds.map((round) => round.requestsPerSecond)
}

/** Medians per row and the ratios that matter, each computed within rounds. */
export function summarise (rows: readonly Row[], modes: readonly Mode[] = []): RowSummary[] {
  const cpuOf = (row: Row) => row.rounds.map((round) => round.cpuMicrosPerRequest)
  return rows.map((row) => {
    const encoding = encodingOf(row)
    const find = (mode: string | undefined) => mode === undefined
      ? undefined
      : rows.find((other) => other.mode === mode && other.endpoint === row.endpoint && encodingOf(other) === encoding)
    const rps = requestsPerSecond(row)
    const cpu = cpuOf(row)
    const requests = row.rounds.reduce((sum, round) => sum + round.requests, 0)
    const baseline = find(BASELINE_MODE)
    const reference = (name: string) => row.endpoint === CEILING_ENDPOINT ? find(name) : undefined
    // Less CPU per request than a reference would be a share above 1: its CPU / this row's CPU.
    const cpuShareOf = (name: string) => {
      const other = reference(name)
      return other ? pairedRatio(cpuOf(other), cpu) : undefined
    }
    const ceiling = reference(CEILING)
    const mode = modes.find((candidate) => candidate.name === row.mode)
    const single = find(mode?.scales)
    const precompressed = find(mode?.peerOf)
    return {
      mode: row.mode,
      endpoint: row.endpoint,
      encoding,
      requestsPerSecond: spread(rps),
      latencyMs: {
        p50: median(row.rounds.map((round) => round.latencyMs.p50)),
        p90: median(row.rounds.map((round) => round.latencyMs.p90)),
        p99: median(row.rounds.map((round) => round.latencyMs.p99)),
        max: Math.max(...row.rounds.map((round) => round.latencyMs.max))
      },
      errors: row.rounds.reduce((sum, round) => sum + round.errors, 0),
      non2xx: row.rounds.reduce((sum, round) => sum + round.non2xx, 0),
      hitRatio: requests > 0 ? row.rounds.reduce((sum, round) => sum + round.cacheHits, 0) / requests : 0,
      queriesPerRequest: requests > 0 ? row.rounds.reduce((sum, round) => sum + round.dbQueries, 0) / requests : 0,
      bytesPerResponse: median(row.rounds.map((round) => round.bytesPerResponse)),
      cpuMicrosPerRequest: spread(cpu),
      speedup: baseline && !isReference(row.mode) ? pairedRatio(rps, requestsPerSecond(baseline)) : undefined,
      ceilingShare: ceiling ? pairedRatio(rps, requestsPerSecond(ceiling)) : undefined,
      ceilingCpuShare: cpuShareOf(CEILING),
      headerCeilingCpuShare: cpuShareOf(HEADER_CEILING),
      redisPeerCpuShare: cpuShareOf(REDIS_PEER),
      scaling: single ? pairedRatio(rps, requestsPerSecond(single)) : undefined,
      cpuOverPrecompressed: precompressed ? pairedRatio(cpu, cpuOf(precompressed)) : undefined
    }
  })
}

/** A ratio by name, as thresholds and comparisons refer to it: `memory/events-list/ceilingCpuShare`. */
export type RatioMetric =
  | 'speedup' | 'ceilingShare' | 'ceilingCpuShare' | 'headerCeilingCpuShare' | 'redisPeerCpuShare' | 'scaling'
  | 'cpuOverPrecompressed'

export function ratioOf (
  summary: readonly RowSummary[],
  { mode, endpoint, encoding = 'identity' }: { mode: string, endpoint: string, encoding?: Encoding },
  metric: RatioMetric
): number | undefined {
  const row = summary.find((candidate) => {
    return candidate.mode === mode && candidate.endpoint === endpoint && encodingOf(candidate) === encoding
  })
  const value = row?.[metric]?.median
  return value === undefined || Number.isNaN(value) ? undefined : value
}
