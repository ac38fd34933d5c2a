import type { Encoding } from '../product.ts'
import type { Thresholds } from '../gate.ts'
import { formatNumber } from '../format.ts'
import { instructionMetric } from '../instructions/results.ts'
import { ratioOf, rowName, type BenchResults } from '../results.ts'
import { encodingOf } from '../scenarios.ts'

export interface CheckOutcome {
  name: string
  measured: number | undefined
  limit: string
  status: 'ok' | 'failed' | 'skipped'
  /** For a skipped one: what was not run. */
  reason?: string
}

/**
 * Compares the first dataset's ratios (never absolute times: the machine is shared) and the
 * instruction ratios with the thresholds. A threshold on a mode the run left out (`--modes`, no
 * Redis), on process scaling not run (no wrk), on rounds not run (`--instructions-only`) or on
 * instructions not counted (no valgrind, `--no-instructions`) is skipped as not measured; a figure
 * of a mode that ran that is missing (an endpoint or the mix left out) or out of bounds fails, and
 * so does a run that measured nothing at all.
 */
export function checkThresholds (results: BenchResults, thresholds: Thresholds): CheckOutcome[] {
  const dataset = results.datasets[0]
  if (!dataset && !results.instructions) {
    const limit = 'a measured dataset or instruction count'
    return [{ name: 'results', measured: undefined, limit, status: 'failed' }]
  }
  const outcomes: CheckOutcome[] = []
  const modesRun = new Set(dataset?.summary.map((row) => row.mode))
  const encodingsRun = new Set(dataset?.summary.map(encodingOf))
  const notRun = (mode: string, encoding: Encoding = 'identity') => {
    if (!dataset) return 'the throughput rounds were not run'
    if (!modesRun.has(mode)) return `${mode} was not run`
    return encodingsRun.has(encoding) ? undefined : `${encoding} was not among --encodings`
  }
  for (const { metric, min, max, ...row } of thresholds.ratios) {
    const measured = dataset && ratioOf(dataset.summary, row, metric)
    outcomes.push(judge(`${rowName(row)}/${metric}`, measured, notRun(row.mode, row.encoding), min, max))
  }
  for (const { mode, metric, min, max } of thresholds.mix) {
    const measured = dataset?.mix.find((candidate) => candidate.mode === mode)?.[metric]
    outcomes.push(judge(`mix/${mode}/${metric}`, measured, notRun(mode), min, max))
  }
  for (const { metric, min, max } of thresholds.processScaling ?? []) {
    const reason = dataset?.processScaling ? undefined : 'process scaling was not run'
    outcomes.push(judge(`processScaling/${metric} (wrk)`, dataset?.processScaling?.[metric].median, reason, min, max))
  }
  const counted = results.instructions?.summary
  const countedModes = new Set(counted?.map((row) => row.mode))
  const countedEncodings = new Set(counted?.map(encodingOf))
  for (const { metric, min, max, ...row } of thresholds.instructions ?? []) {
    const encoding = row.encoding ?? 'identity'
    const reason = !counted
      ? 'instructions were not counted'
      : !countedModes.has(row.mode)
          ? `${row.mode} was not counted`
          : countedEncodings.has(encoding) ? undefined : `${encoding} was not among --encodings`
    const measured = counted && instructionMetric(counted, row, metric)
    outcomes.push(judge(`instructions/${rowName(row)}/${metric}`, measured, reason, min, max))
  }
  return outcomes
}

function judge (name: string, measured: number | undefined, notRun: string | undefined, min?: number, max?: number) {
  const limit = [min !== undefined && `≥ ${min}`, max !== undefined && `≤ ${max}`].filter(Boolean).join(' and ')
  if (measured === undefined && notRun !== undefined) {
    return { name, measured, limit, status: 'skipped' as const, reason: notRun }
  }
  const ok = measured !== undefined && (min === undefined || measured >= min) && (max === undefined || measured <= max)
  return { name, measured, limit, status: ok ? 'ok' as const : 'failed' as const }
}

const LABELS = { ok: 'ok     ', skipped: 'skipped', failed: 'FAILED ' } as const

export function formatCheck (outcomes: readonly CheckOutcome[]): string {
  const lines = outcomes.map(({ name, measured, limit, status, reason }) => {
    const value = measured === undefined ? `not measured${reason ? `, ${reason}` : ''}` : formatNumber(measured)
    return `${LABELS[status]} ${name}: ${value} (threshold ${limit})`
  })
  const failed = outcomes.filter((outcome) => outcome.status === 'failed').length
  const skipped = outcomes.filter((outcome) => outcome.status === 'skipped').length
  const passed = skipped === 0 ? 'bench check passed' : `bench check passed; ${skipped} threshold(s) not measured`
  lines.push(failed === 0 ? passed : `bench check failed: ${failed} ratio(s) past their threshold`)
  return lines.join('\n')
}
