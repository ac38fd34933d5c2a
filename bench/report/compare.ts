import { readFile } from 'node:fs/promises'
import { formatNumber } from '../format.ts'
import type { InstructionMetric } from '../instructions/results.ts'
import { rowName, type BenchResults, type RatioMetric } from '../results.ts'
import { currentModeName } from '../scenarios.ts'

/** A saved run, with mode names as they are today (files written before they were ASCII included). */
export async function loadResults (file: string): Promise<BenchResults> {
  const results = JSON.parse(await readFile(file, 'utf8')) as BenchResults
  for (const dataset of results.datasets) {
    for (const list of [dataset.rows, dataset.summary, dataset.mix]) {
      for (const entry of list) entry.mode = currentModeName(entry.mode)
    }
  }
  return results
}

function describe (results: BenchResults): string {
  return `${results.startedAt} (${results.environment.commit}${results.environment.dirty ? ', dirty' : ''})`
}

/** The CPU shares compared, each a reference's CPU per request over the row's. */
const CPU_SHARES: ReadonlyArray<readonly [string, RatioMetric]> = [
  ['ceiling CPU share', 'ceilingCpuShare'],
  ['header ceiling CPU', 'headerCeilingCpuShare'],
  ['getBuffer CPU', 'redisPeerCpuShare']
]

/** The instruction ratios compared: a hit over each reference, and the mean window over the cheapest. */
const INSTRUCTION_RATIOS: ReadonlyArray<readonly [string, InstructionMetric]> = [
  ['hit ÷ ceiling', 'hitPerCeiling'],
  ['loaded ÷ ceiling', 'loadedPerCeiling'],
  ['hit ÷ header ceiling', 'hitPerHeaderCeiling'],
  ['loaded ÷ header c.', 'loadedPerHeaderCeiling'],
  ['hit ÷ getBuffer', 'hitPerRedisPeer'],
  ['loaded ÷ getBuffer', 'loadedPerRedisPeer'],
  ['hit mean ÷ cheapest', 'hitMeanPerCheapest']
]

/** The change between two saved runs, row by row (the first dataset each). */
export function compareRuns (before: BenchResults, after: BenchResults): string {
  const rowsBefore = before.datasets[0]?.summary ?? []
  const rowsAfter = after.datasets[0]?.summary ?? []
  const lines = [
    `before: ${describe(before)}   after: ${describe(after)}`,
    'mode/endpoint'.padEnd(34) + 'req/s'.padStart(22) + 'p99 ms'.padStart(18) + '×off'.padStart(18) +
      CPU_SHARES.map(([label]) => label.padStart(22)).join('')
  ]
  for (const row of rowsAfter) {
    const old = rowsBefore.find((candidate) => rowName(candidate) === rowName(row))
    if (!old) continue
    lines.push(
      rowName(row).padEnd(34) +
      change(old.requestsPerSecond.median, row.requestsPerSecond.median).padStart(22) +
      change(old.latencyMs.p99, row.latencyMs.p99).padStart(18) +
      change(old.speedup?.median, row.speedup?.median).padStart(18) +
      CPU_SHARES.map(([, metric]) => change(old[metric]?.median, row[metric]?.median).padStart(22)).join('')
    )
  }
  const [first, second] = [before.datasets[0], after.datasets[0]]
  const scaling = change(first?.processScaling?.ratio.median, second?.processScaling?.ratio.median)
  if (scaling !== '–') lines.push(`process scaling (wrk), two processes over one: ${scaling}`)
  const lag = change(first?.invalidationLag?.p99, second?.invalidationLag?.p99)
  if (lag !== '–') lines.push(`invalidation lag p99 ms: ${lag}`)
  lines.push(...instructionChanges(before, after))
  return lines.join('\n')
}

/**
 * The instruction count's ratios, row by row, to a tenth of a percent: they repeat to a few tenths,
 * so a whole-percent move is the code. Counts taken with another protocol are not comparable.
 */
function instructionChanges (before: BenchResults, after: BenchResults): string[] {
  if (!before.instructions || !after.instructions) return []
  const lines = ['', 'instructions'.padEnd(34) + INSTRUCTION_RATIOS.map(([label]) => label.padStart(22)).join('')]
  if (JSON.stringify(before.instructions.protocol) !== JSON.stringify(after.instructions.protocol)) {
    lines.push('(counted with different protocols: compare these with care)')
  }
  for (const row of after.instructions.summary) {
    const old = before.instructions.summary.find((candidate) => rowName(candidate) === rowName(row))
    if (!old || INSTRUCTION_RATIOS.every(([, metric]) => row[metric] === undefined)) continue
    lines.push(rowName(row).padEnd(34) +
      INSTRUCTION_RATIOS.map(([, metric]) => change(old[metric], row[metric], 1).padStart(22)).join(''))
  }
  return lines
}

function change (before: number | undefined, after: number | undefined, decimals = 0): string {
  if (before === undefined || after === undefined || !Number.isFinite(before) || !Number.isFinite(after)) return '–'
  const percent = before === 0 ? 0 : ((after - before) / before) * 100
  const sign = percent >= 0 ? '+' : ''
  return `${formatNumber(before)}→${formatNumber(after)} (${sign}${percent.toFixed(decimals)}%)`
}
