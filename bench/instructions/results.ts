// The instruction count's figures: each counted window, and per mode, endpoint and coding the
// instructions per request and their ratios.
import type { Encoding } from '../product.ts'
import { BASELINE_MODE, CEILING, encodingOf, HEADER_CEILING, isReference, REDIS_PEER } from '../scenarios.ts'
import type { Sizes } from './workload.ts'

/**
 * Hits and misses of a cache mode; `uncached`: the cache off; a reference's requests count as hits.
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
  /** The mean window's instructions per request (absent in older files). */
  meanPerRequest?: number
}

/**
 * Instructions per request on one endpoint in one mode, its requests accepting one coding, with
 * the references' (each sending the same representation) and the baseline's beside them. The
 * header ceiling and the Redis peer are absent in older files.
 */
export interface InstructionRow {
  mode: string
  endpoint: string
  /** The coding the requests accepted (absent in older result files: identity). */
  encoding?: Encoding
  hit?: number
  /** A hit arriving with BURST others at once, as under load. */
  loaded?: number
  miss?: number
  /** The cache off (the baseline mode): what every request costs without it. */
  uncached?: number
  ceiling?: number
  loadedCeiling?: number
  /** What a hit costs over the least any server could do to send the same bytes. */
  hitPerCeiling?: number
  /** The same under load: a loaded hit over a loaded ceiling request. */
  loadedPerCeiling?: number
  /** What a miss costs over the same request with the cache off: the lookup and the fill. */
  missPerUncached?: number
  /** The ceiling sending the headers a hit sends, from constants. */
  headerCeiling?: number
  loadedHeaderCeiling?: number
  /** What a hit costs over the least a server sending the same bytes and headers could do. */
  hitPerHeaderCeiling?: number
  loadedPerHeaderCeiling?: number
  /** A bare route reading the same bytes from Redis with ioredis's getBuffer (only with a Redis). */
  redisPeer?: number
  loadedRedisPeer?: number
  hitPerRedisPeer?: number
  loadedPerRedisPeer?: number
  /**
   * The mean window over the cheapest, of hits and of loaded hits: about 1 unless something lands in
   * some windows only, such as the collection of garbage a hit leaves behind.
   */
  hitMeanPerCheapest?: number
  loadedMeanPerCheapest?: number
}

export type InstructionMetric =
  | 'hitPerCeiling' | 'loadedPerCeiling' | 'missPerUncached' | 'hitPerHeaderCeiling' | 'loadedPerHeaderCeiling'
  | 'hitPerRedisPeer' | 'loadedPerRedisPeer' | 'hitMeanPerCheapest' | 'loadedMeanPerCheapest'

export interface InstructionResult {
  /** The dataset, workload sizes and V8 flags the counts were taken with: compare runs of the same only. */
  protocol: {
    dataset: { events: number, guestsPerEvent: number }
    hits: Sizes
    loadedHits: Sizes
    burst: number
    misses: Sizes
    uncached: Sizes
    settleMs: number
    nodeFlags: readonly string[]
    /** The codings hits were counted in (absent in older files: identity only). */
    encodings?: readonly Encoding[]
  }
  counts: InstructionCount[]
  summary: InstructionRow[]
}

const divide = (a: number | undefined, b: number | undefined) => a === undefined || !b ? undefined : a / b

export function summariseInstructions (counts: readonly InstructionCount[]): InstructionRow[] {
  const served = counts.filter((count) => !isReference(count.mode))
  const rows = [...new Set(served.map((count) => `${count.mode}\n${count.endpoint}\n${encodingOf(count)}`))]
  return rows.map((key) => {
    const [mode, endpoint, encoding] = key.split('\n') as [string, string, Encoding]
    const counted = (of: string, kind: CountKind) => counts.find((count) => {
      return count.mode === of && count.endpoint === endpoint && encodingOf(count) === encoding && count.kind === kind
    })
    const find = (of: string, kind: CountKind) => counted(of, kind)?.perRequest
    const meanPerCheapest = (kind: CountKind) => {
      const count = counted(mode, kind)
      return divide(count?.meanPerRequest, count?.perRequest)
    }
    const row = {
      hit: find(mode, 'hit'),
      loaded: find(mode, 'loaded'),
      miss: find(mode, 'miss'),
      uncached: find(BASELINE_MODE, 'uncached'),
      ceiling: find(CEILING, 'hit'),
      loadedCeiling: find(CEILING, 'loaded'),
      headerCeiling: find(HEADER_CEILING, 'hit'),
      loadedHeaderCeiling: find(HEADER_CEILING, 'loaded'),
      redisPeer: find(REDIS_PEER, 'hit'),
      loadedRedisPeer: find(REDIS_PEER, 'loaded')
    }
    return {
      mode,
      endpoint,
      encoding,
      ...row,
      hitPerCeiling: divide(row.hit, row.ceiling),
      loadedPerCeiling: divide(row.loaded, row.loadedCeiling),
      missPerUncached: divide(row.miss, row.uncached),
      hitPerHeaderCeiling: divide(row.hit, row.headerCeiling),
      loadedPerHeaderCeiling: divide(row.loaded, row.loadedHeaderCeiling),
      hitPerRedisPeer: divide(row.hit, row.redisPeer),
      loadedPerRedisPeer: divide(row.loaded, row.loadedRedisPeer),
      hitMeanPerCheapest: meanPerCheapest('hit'),
      loadedMeanPerCheapest: meanPerCheapest('loaded')
    }
  })
}

export function instructionMetric (
  summary: readonly InstructionRow[],
  { mode, endpoint, encoding = 'identity' }: { mode: string, endpoint: string, encoding?: Encoding },
  metric: InstructionMetric
): number | undefined {
  return summary.find((row) => {
    return row.mode === mode && row.endpoint === endpoint && encodingOf(row) === encoding
  })?.[metric]
}
