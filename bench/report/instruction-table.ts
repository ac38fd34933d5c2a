// The instruction count as a table: the Markdown report's, the terminal's and the HTML page's.
import type { InstructionRow } from '../instructions/results.ts'
import { encodingOf } from '../scenarios.ts'

/** `168.3k`, `4.14M`: instructions to three or four figures. */
function instructions (value: number | undefined): string {
  if (value === undefined) return '–'
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`
  return `${(value / 1e3).toFixed(1)}k`
}

/** A ratio to two decimals; three where it sits within a percent of 1 (the mean window over the cheapest). */
const times = (value: number | undefined, decimals = 2) => value === undefined ? '–' : `${value.toFixed(decimals)}×`

export const INSTRUCTION_COLUMNS = [
  'mode', 'endpoint', 'encoding', 'hit', 'miss', 'uncached', 'ceiling', 'hit ÷ ceiling',
  'loaded hit', 'loaded ceiling', 'loaded ÷ ceiling', 'miss ÷ uncached',
  'header ceiling', 'hit ÷ header ceiling', 'loaded ÷ header ceiling',
  'getBuffer', 'hit ÷ getBuffer', 'loaded ÷ getBuffer', 'hit mean ÷ cheapest', 'loaded mean ÷ cheapest'
]

/** The Markdown table (also what the terminal shows). */
export function instructionTable (summary: readonly InstructionRow[]): string[] {
  const rows = summary.map((row) => [
    row.mode,
    row.endpoint,
    encodingOf(row),
    instructions(row.hit),
    instructions(row.miss),
    instructions(row.uncached),
    instructions(row.ceiling),
    times(row.hitPerCeiling),
    instructions(row.loaded),
    instructions(row.loadedCeiling),
    times(row.loadedPerCeiling),
    times(row.missPerUncached),
    instructions(row.headerCeiling),
    times(row.hitPerHeaderCeiling),
    times(row.loadedPerHeaderCeiling),
    instructions(row.redisPeer),
    times(row.hitPerRedisPeer),
    times(row.loadedPerRedisPeer),
    times(row.hitMeanPerCheapest, 3),
    times(row.loadedMeanPerCheapest, 3)
  ])
  return [
    `| ${INSTRUCTION_COLUMNS.join(' | ')} |`,
    `|${INSTRUCTION_COLUMNS.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`)
  ]
}
