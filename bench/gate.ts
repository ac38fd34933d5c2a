// bench/thresholds.json as data, and what a run must measure for its gate to read every figure
// (`--gated`: CI measures those rows and steps, and none of the others).
import { readFile } from 'node:fs/promises'
import type { Encoding } from './product.ts'
import type { InstructionMetric } from './instructions/results.ts'
import { rowName, type RatioMetric } from './results.ts'
import { BASELINE_MODE, CEILING, HEADER_CEILING, MODES, REDIS_PEER, type ModeName } from './scenarios.ts'

/** A row a threshold names; `encoding` absent: identity. */
export interface RowKey {
  mode: string
  endpoint: string
  encoding?: Encoding
}

export interface Thresholds {
  ratios: Array<RowKey & { metric: RatioMetric, min?: number, max?: number }>
  mix: Array<{ mode: string, metric: 'hitRatio' | 'staleReads', min?: number, max?: number }>
  /** Two tiered processes over one, under wrk; skipped where wrk was not on the PATH. */
  processScaling?: Array<{ metric: 'ratio' | 'perBusyCpu', min?: number, max?: number }>
  /** Ratios of instructions per request under callgrind: what CI leans on, since they repeat. */
  instructions?: Array<RowKey & { metric: InstructionMetric, min?: number, max?: number }>
}

// From the bench's build, dist/bench/: the thresholds file in the repository, never a copy.
const THRESHOLDS = new URL('../../bench/thresholds.json', import.meta.url)

export async function loadThresholds (file: URL | string = THRESHOLDS): Promise<Thresholds> {
  return JSON.parse(await readFile(file, 'utf8')) as Thresholds
}

/** What the gate reads: the modes to start, the rows of the rounds, and the steps after them. */
export interface GatedRun {
  modes: ModeName[]
  measuresRow: (row: RowKey) => boolean
  steps: string[]
}

/**
 * The rows each ratio threshold reads (its own, and the row its ratio divides by: the baseline's,
 * a reference's, the one-instance mode's or the mode the peer is compared with), the mix's and
 * the scaling's steps where a threshold names them, and every mode any of them needs. The
 * instruction count counts the modes started.
 */
export function gatedRun (thresholds: Thresholds): GatedRun {
  const rows = new Set<string>()
  const modes = new Set<string>([BASELINE_MODE])
  for (const { metric, ...row } of thresholds.ratios) {
    const mode = MODES.find((candidate) => candidate.name === row.mode)
    const divisor = {
      speedup: BASELINE_MODE,
      ceilingShare: CEILING,
      ceilingCpuShare: CEILING,
      headerCeilingCpuShare: HEADER_CEILING,
      redisPeerCpuShare: REDIS_PEER,
      scaling: mode?.scales,
      cpuOverPrecompressed: mode?.peerOf
    }[metric]
    for (const name of [row.mode, divisor]) {
      if (name === undefined) continue
      rows.add(rowName({ ...row, mode: name }))
      modes.add(name)
    }
  }
  for (const { mode } of [...thresholds.mix, ...thresholds.instructions ?? []]) modes.add(mode)
  const steps = [
    ...thresholds.mix.length > 0 ? ['mix'] : [],
    ...(thresholds.processScaling ?? []).length > 0 ? ['scaling'] : []
  ]
  return {
    modes: MODES.map((mode) => mode.name).filter((name) => modes.has(name)),
    measuresRow: (row) => rows.has(rowName(row)),
    steps
  }
}
