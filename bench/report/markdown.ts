// The run as Markdown: the report written beside the results, to --report and to GitHub's step summary.
import { formatNumber } from '../format.ts'
import type { BenchResults } from '../results.ts'
import { processScalingLine } from '../steps/process-scaling.ts'
import { instructionTable } from './instruction-table.ts'
import {
  compressionLines, databaseLagLines, datasetTitle, describeRun, expiryLines, GROWTH, growthSeries,
  INSTRUCTIONS_INTRO, lagLine, mixLines
} from './sections.ts'
import { cells, COLUMNS } from './table.ts'

function growthLines (results: BenchResults): string[] {
  if (results.datasets.length < 2) return []
  const sizes = results.datasets.map((dataset) => dataset.events)
  return [
    '## How latency grows with the data (p50 ms)',
    '',
    GROWTH,
    '',
    `| mode/endpoint | ${sizes.map((size) => `${size.toLocaleString('en')} events`).join(' | ')} |`,
    `|---|${sizes.map(() => '---').join('|')}|`,
    ...growthSeries(results).map(({ name, values }) => {
      return `| ${name} | ${values.map((value) => value === undefined ? '–' : formatNumber(value)).join(' | ')} |`
    }),
    ''
  ]
}

export function renderMarkdown (results: BenchResults): string {
  const lines = ['# eventcache bench', '', ...describeRun(results).map((line) => `- ${line}`), '']
  for (const dataset of results.datasets) {
    const page = (dataset.eventsListBytes / 1024).toFixed(1)
    lines.push(`## ${datasetTitle(dataset)} (events list page: ${page} KB)`, '')
    lines.push(`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`)
    for (const row of dataset.summary) lines.push(`| ${cells(row).join(' | ')} |`)
    lines.push('')
    lines.push(...compressionLines(dataset))
    const mix = mixLines(dataset)
    if (mix.length > 0) lines.push('Read/write mix (GET and PATCH /events/:id on a hot set):', '', ...mix, '')
    if (dataset.invalidationLag) lines.push(lagLine(dataset), '')
    lines.push(...databaseLagLines(dataset))
    lines.push(...expiryLines(dataset))
    if (dataset.processScaling) lines.push(processScalingLine(dataset.processScaling), '')
  }
  lines.push(...growthLines(results), ...instructionLines(results))
  return lines.join('\n')
}

export function instructionLines (results: BenchResults): string[] {
  if (!results.instructions) return []
  const { dataset } = results.instructions.protocol
  return [
    `## Instructions per request (${dataset.events.toLocaleString('en')} events × ${dataset.guestsPerEvent} guests)`,
    '',
    INSTRUCTIONS_INTRO,
    '',
    ...instructionTable(results.instructions.summary),
    ''
  ]
}
