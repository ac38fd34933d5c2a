import { ratioOf, type BenchResults, type RatioMetric } from './results.ts'

export interface Thresholds {
  ratios: Array<{ mode: string, endpoint: string, metric: RatioMetric, min?: number, max?: number }>
  mix: Array<{ mode: string, metric: 'hitRatio' | 'staleReads', min?: number, max?: number }>
  /** Two tiered processes over one, under wrk; skipped where wrk was not on the PATH. */
  processScaling?: Array<{ metric: 'ratio' | 'perBusyCpu', min?: number, max?: number }>
}

export interface CheckOutcome {
  name: string
  measured: number | undefined
  limit: string
  status: 'ok' | 'failed' | 'skipped'
}

/**
 * Compares the first dataset's ratios (never absolute times: the machine is shared) with the
 * thresholds. A ratio whose mode was not measured at all (no Redis) is skipped, not failed; a
 * measured one that is missing or short fails.
 */
export function checkThresholds (results: BenchResults, thresholds: Thresholds): CheckOutcome[] {
  const dataset = results.datasets[0]
  if (!dataset) return [{ name: 'results', measured: undefined, limit: 'a measured dataset', status: 'failed' }]
  const measuredModes = new Set(dataset.summary.map((row) => row.mode))
  const outcomes: CheckOutcome[] = []
  const judge = (name: string, mode: string, measured: number | undefined, min?: number, max?: number) => {
    const limit = [min !== undefined && `≥ ${min}`, max !== undefined && `≤ ${max}`].filter(Boolean).join(' and ')
    if (measured === undefined && !measuredModes.has(mode)) return outcomes.push({ name, measured, limit, status: 'skipped' })
    const ok = measured !== undefined && (min === undefined || measured >= min) && (max === undefined || measured <= max)
    return outcomes.push({ name, measured, limit, status: ok ? 'ok' : 'failed' })
  }
  for (const { mode, endpoint, metric, min, max } of thresholds.ratios) {
    judge(`${mode}/${endpoint}/${metric}`, mode, ratioOf(dataset.summary, mode, endpoint, metric), min, max)
  }
  for (const { mode, metric, min, max } of thresholds.mix) {
    judge(`mix/${mode}/${metric}`, mode, dataset.mix.find((candidate) => candidate.mode === mode)?.[metric], min, max)
  }
  for (const { metric, min, max } of thresholds.processScaling ?? []) {
    judge(`processScaling/${metric} (wrk)`, dataset.processScaling ? 'tiered×2' : 'wrk', dataset.processScaling?.[metric].median, min, max)
  }
  return outcomes
}

export function formatCheck (outcomes: readonly CheckOutcome[]): string {
  const lines = outcomes.map(({ name, measured, limit, status }) => {
    const value = measured === undefined ? 'not measured' : formatNumber(measured)
    return `${status === 'ok' ? 'ok     ' : status === 'skipped' ? 'skipped' : 'FAILED '} ${name}: ${value} (threshold ${limit})`
  })
  const failed = outcomes.filter((outcome) => outcome.status === 'failed').length
  lines.push(failed === 0 ? 'bench check passed' : `bench check failed: ${failed} ratio(s) below threshold`)
  return lines.join('\n')
}

/** The change between two saved runs, row by row (the first dataset each). */
export function compareRuns (before: BenchResults, after: BenchResults): string {
  const rowsBefore = before.datasets[0]?.summary ?? []
  const rowsAfter = after.datasets[0]?.summary ?? []
  const lines = [
    `before: ${before.startedAt} (${before.environment.commit})   after: ${after.startedAt} (${after.environment.commit})`,
    'mode/endpoint'.padEnd(28) + 'req/s'.padStart(22) + 'p99 ms'.padStart(18) + '×off'.padStart(18) + 'ceiling CPU share'.padStart(22)
  ]
  for (const row of rowsAfter) {
    const old = rowsBefore.find((candidate) => candidate.mode === row.mode && candidate.endpoint === row.endpoint)
    if (!old) continue
    lines.push(
      `${row.mode}/${row.endpoint}`.padEnd(28) +
      change(old.requestsPerSecond.median, row.requestsPerSecond.median).padStart(22) +
      change(old.latencyMs.p99, row.latencyMs.p99).padStart(18) +
      change(old.speedup?.median, row.speedup?.median).padStart(18) +
      change(old.ceilingCpuShare?.median, row.ceilingCpuShare?.median).padStart(22)
    )
  }
  return lines.join('\n')
}

function change (before: number | undefined, after: number | undefined): string {
  if (before === undefined || after === undefined || !Number.isFinite(before) || !Number.isFinite(after)) return '–'
  const percent = before === 0 ? 0 : ((after - before) / before) * 100
  return `${formatNumber(before)}→${formatNumber(after)} (${percent >= 0 ? '+' : ''}${percent.toFixed(0)}%)`
}

export function formatNumber (value: number): string {
  if (!Number.isFinite(value)) return '–'
  if (Math.abs(value) >= 100) return value.toFixed(0)
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}
