// The run as one self-contained HTML page: no scripts, no external assets.
import type { BenchResults, DatasetResult } from '../results.ts'
import { processScalingLine } from '../steps/process-scaling.ts'
import { escapeXml, latencyChart, scalingChart, throughputChart } from './charts.ts'
import { instructionTable } from './instruction-table.ts'
import { datasetTitle, describeRun, GROWTH, INSTRUCTIONS_INTRO, lagLine, mixLines } from './sections.ts'
import { cells, COLUMNS } from './table.ts'

const STYLE = `
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
  table { border-collapse: collapse; font-size: 12px; margin: 1rem 0; }
  th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; white-space: nowrap; }
  th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
  figure { margin: 1.5rem 0; }
  .wide { overflow-x: auto; }
  ul { color: #444; }
`

const tag = (name: string, contents: readonly string[]) => contents.map((cell) => `<${name}>${cell}</${name}>`).join('')

function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const body = rows.map((row) => `<tr>${tag('td', row)}</tr>`).join('')
  return `<table><thead><tr>${tag('th', header)}</tr></thead><tbody>${body}</tbody></table>`
}

function markdownTableToHtml (lines: string[]): string {
  const [header, , ...body] = lines
  const split = (line: string) => line.split('|').slice(1, -1).map((cell) => escapeXml(cell.trim()))
  return table(split(header ?? ''), body.map(split))
}

/** Markdown's inline code as HTML, the rest escaped. */
function inlineCode (text: string): string {
  return escapeXml(text).replace(/`([^`]*)`/g, '<code>$1</code>')
}

function section (dataset: DatasetResult): string {
  const page = (dataset.eventsListBytes / 1024).toFixed(1)
  const rows = dataset.summary.map((row) => cells(row).map(escapeXml))
  const parts = [
    `<h2>${escapeXml(datasetTitle(dataset))} <small>(events list page ${page} KB)</small></h2>`,
    `<figure>${throughputChart(dataset)}</figure>`,
    `<figure>${latencyChart(dataset)}</figure>`,
    `<div class="wide">${table(COLUMNS.map(escapeXml), rows)}</div>`
  ]
  if (dataset.mix.length > 0) parts.push(`<h3>Read/write mix</h3>${markdownTableToHtml(mixLines(dataset))}`)
  if (dataset.invalidationLag) parts.push(`<p>${escapeXml(lagLine(dataset))}</p>`)
  if (dataset.processScaling) parts.push(`<p>${escapeXml(processScalingLine(dataset.processScaling))}</p>`)
  return parts.join('\n')
}

function instructionSection (summary: Parameters<typeof instructionTable>[0]): string {
  return `<h2>Instructions per request</h2><p>${inlineCode(INSTRUCTIONS_INTRO)}</p>` +
    `<div class="wide">${markdownTableToHtml(instructionTable(summary))}</div>`
}

export function renderHtml (results: BenchResults): string {
  const scaling = scalingChart(results)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>eventcache bench ${escapeXml(results.startedAt)}</title>
<style>${STYLE}</style></head><body>
<h1>eventcache bench</h1>
<ul>${describeRun(results).map((line) => `<li>${inlineCode(line)}</li>`).join('')}</ul>
${results.datasets.map(section).join('\n')}
${scaling ? `<h2>Scaling</h2><p>${inlineCode(GROWTH)}</p><figure>${scaling}</figure>` : ''}
${results.instructions ? instructionSection(results.instructions.summary) : ''}
</body></html>
`
}
