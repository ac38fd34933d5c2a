import { formatNumber } from './check.ts'
import type { ProcessScalingResult } from './process-scaling.ts'
import type { BenchResults, DatasetResult, RowSummary } from './results.ts'
import { CEILING, ENDPOINTS } from './scenarios.ts'
import type { Spread } from './stats.ts'

const COLUMNS = ['mode', 'endpoint', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'hit %', 'queries/req', 'KB/resp', '×off+join', 'ceiling (req/s)', 'ceiling (CPU)', '×1 instance', 'µs CPU/req']

function cells (row: RowSummary): string[] {
  return [
    row.mode,
    row.endpoint,
    formatNumber(row.requestsPerSecond.median),
    formatNumber(row.latencyMs.p50),
    formatNumber(row.latencyMs.p90),
    formatNumber(row.latencyMs.p99),
    formatNumber(row.latencyMs.max),
    String(row.errors),
    String(row.non2xx),
    row.mode === CEILING ? '–' : (row.hitRatio * 100).toFixed(1),
    row.mode === CEILING ? '–' : row.queriesPerRequest.toFixed(2),
    (row.bytesPerResponse / 1024).toFixed(1),
    ratio(row.speedup, '×'),
    ratio(row.ceilingShare, ''),
    ratio(row.ceilingCpuShare, ''),
    ratio(row.scaling, '×'),
    formatNumber(row.cpuMicrosPerRequest.median)
  ]
}

/** `median [min–max]` of a paired ratio, or a dash. */
export function ratio (value: Spread | undefined, suffix: string): string {
  if (!value || Number.isNaN(value.median)) return '–'
  return `${formatNumber(value.median)}${suffix} [${formatNumber(value.min)}–${formatNumber(value.max)}]`
}

export function renderTable (rows: readonly RowSummary[]): string {
  const table = [COLUMNS, ...rows.map(cells)]
  const widths = COLUMNS.map((_, column) => Math.max(...table.map((line) => line[column]!.length)))
  return table.map((line, index) => {
    const text = line.map((cell, column) => column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)).join('  ')
    return index === 0 ? `${text}\n${'-'.repeat(text.length)}` : text
  }).join('\n')
}

function describeRun (results: BenchResults): string[] {
  const { machine, node, versions, commit } = results.environment
  return [
    `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${node}; ${Object.entries(versions).map(([name, version]) => `${name} ${version}`).join(', ')}; commit ${commit}`,
    `${results.options.rounds} round(s) × ${results.options.durationSeconds} s per row, ${results.options.connections} connections; ratios are paired within each round, shown as median [min–max] over rounds`,
    ...results.notes
  ]
}

function mixLines (dataset: DatasetResult): string[] {
  if (dataset.mix.length === 0) return []
  const baseline = dataset.mix.find((mix) => mix.mode === 'off+join')
  return [
    '| mode | req/s | reads | writes | hit % | read p50/p99 ms | write p50/p99 ms | write cost vs off (p50 ms) | stale reads | errors |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...dataset.mix.map((mix) => `| ${mix.mode} | ${formatNumber(mix.requestsPerSecond)} | ${mix.reads} | ${mix.writes} | ${(mix.hitRatio * 100).toFixed(1)} | ${mix.readLatencyMs.p50} / ${mix.readLatencyMs.p99} | ${mix.writeLatencyMs.p50} / ${mix.writeLatencyMs.p99} | ${baseline && mix.mode !== baseline.mode ? (mix.writeLatencyMs.p50 - baseline.writeLatencyMs.p50).toFixed(2) : '–'} | ${mix.staleReads} | ${mix.errors + mix.non2xx} |`)
  ]
}

function lagLine ({ invalidationLag: lag }: DatasetResult): string {
  return lag === undefined
    ? ''
    : `Invalidation lag across instances (tiered×2: a write acknowledged by instance 1 → instance 2 serves the new state), ${lag.samples} writes: p50 ${formatNumber(lag.p50)} ms, p99 ${formatNumber(lag.p99)} ms, max ${formatNumber(lag.max)} ms.`
}

/** The process-scaling measurement in one sentence: the report's line and the bench's `[scaling]` output. */
export function processScalingLine (scaling: ProcessScalingResult): string {
  return `Two processes against one (tiered, \`GET ${scaling.path}\`, load from ${scaling.generator} with ${scaling.connections} connections split over the processes): ` +
      `one ${formatNumber(scaling.one.median)} req/s, two ${formatNumber(scaling.two.median)} req/s, ${formatNumber(scaling.ratio.median)}× [${formatNumber(scaling.ratio.min)}–${formatNumber(scaling.ratio.max)}] ` +
      `(server CPU per request ${formatNumber(scaling.cpuMicrosPerRequest.one)} µs → ${formatNumber(scaling.cpuMicrosPerRequest.two)} µs; ` +
      `machine CPU busy ${(scaling.machineBusy.one * 100).toFixed(0)}% → ${(scaling.machineBusy.two * 100).toFixed(0)}%, throughput per busy CPU ${formatNumber(scaling.perBusyCpu.median)}× one process's; ${scaling.errors} errors).`
}

function scalingLines (results: BenchResults): string[] {
  if (results.datasets.length < 2) return []
  const sizes = results.datasets.map((dataset) => dataset.events)
  const first = results.datasets[0]!
  const lines = [
    '## How latency grows with the data (p50 ms)',
    '',
    'Cached reads stay flat; uncached lists do not: `count(*)` reads every row and `OFFSET` walks past the skipped ones, so both grow with the table.',
    '',
    `| mode/endpoint | ${sizes.map((size) => `${size.toLocaleString('en')} events`).join(' | ')} |`,
    `|---|${sizes.map(() => '---').join('|')}|`
  ]
  for (const row of first.summary) {
    const values = results.datasets.map((dataset) => dataset.summary.find((other) => other.mode === row.mode && other.endpoint === row.endpoint)?.latencyMs.p50)
    lines.push(`| ${row.mode}/${row.endpoint} | ${values.map((value) => value === undefined ? '–' : formatNumber(value)).join(' | ')} |`)
  }
  return [...lines, '']
}

export function renderMarkdown (results: BenchResults): string {
  const lines = ['# eventcache bench', '', ...describeRun(results).map((line) => `- ${line}`), '']
  for (const dataset of results.datasets) {
    lines.push(`## ${dataset.events.toLocaleString('en')} events × ${dataset.guestsPerEvent} guests (events list page: ${(dataset.eventsListBytes / 1024).toFixed(1)} KB)`, '')
    lines.push(`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`)
    for (const row of dataset.summary) lines.push(`| ${cells(row).join(' | ')} |`)
    lines.push('')
    const mix = mixLines(dataset)
    if (mix.length > 0) lines.push('Read/write mix (GET and PATCH /events/:id on a hot set):', '', ...mix, '')
    if (dataset.invalidationLag) lines.push(lagLine(dataset), '')
    if (dataset.processScaling) lines.push(processScalingLine(dataset.processScaling), '')
  }
  lines.push(...scalingLines(results))
  return lines.join('\n')
}

// ---- HTML with SVG charts -------------------------------------------------------------

const PALETTE: Record<string, string> = { 'off+naive': '#b0413e', 'off+join': '#e07b39', memory: '#3b7dd8', redis: '#2a9d8f', tiered: '#7b5ea7', 'tiered×2': '#a58bd1', ceiling: '#6c757d' }
const colour = (mode: string) => PALETTE[mode] ?? '#888'

function escapeXml (text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}

/** Grouped horizontal bars: one group per endpoint, one bar per mode. */
export function throughputChart (dataset: DatasetResult): string {
  const endpoints = ENDPOINTS.map((endpoint) => endpoint.name).filter((name) => dataset.summary.some((row) => row.endpoint === name))
  const rows = endpoints.flatMap((endpoint) => dataset.summary.filter((row) => row.endpoint === endpoint))
  const max = Math.max(1, ...rows.map((row) => row.requestsPerSecond.max))
  const barHeight = 18
  const labelWidth = 190
  const plotWidth = 560
  const groupGap = 14
  let y = 30
  const parts: string[] = []
  for (const endpoint of endpoints) {
    parts.push(`<text x="0" y="${y + 12}" font-weight="600">${escapeXml(endpoint)}</text>`)
    y += 18
    for (const row of dataset.summary.filter((candidate) => candidate.endpoint === endpoint)) {
      const width = (row.requestsPerSecond.median / max) * plotWidth
      const whiskerFrom = labelWidth + (row.requestsPerSecond.min / max) * plotWidth
      const whiskerTo = labelWidth + (row.requestsPerSecond.max / max) * plotWidth
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 13}" text-anchor="end">${escapeXml(row.mode)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${colour(row.mode)}"><title>${escapeXml(`${row.mode} ${endpoint}: ${formatNumber(row.requestsPerSecond.median)} req/s`)}</title></rect>`,
        `<line x1="${whiskerFrom.toFixed(1)}" x2="${whiskerTo.toFixed(1)}" y1="${y + barHeight / 2}" y2="${y + barHeight / 2}" stroke="#222" stroke-width="1.5"/>`,
        `<text x="${(Math.max(labelWidth + width, whiskerTo) + 6).toFixed(1)}" y="${y + 13}">${formatNumber(row.requestsPerSecond.median)}</text>`
      )
      y += barHeight + 4
    }
    y += groupGap
  }
  return svg(labelWidth + plotWidth + 90, y, 'Throughput, median req/s (line: min–max over rounds)', parts)
}

/** Latency percentiles on a log scale: p99 (light) behind p90 behind p50 (dark), per mode and endpoint. */
export function latencyChart (dataset: DatasetResult): string {
  const endpoints = ENDPOINTS.map((endpoint) => endpoint.name).filter((name) => dataset.summary.some((row) => row.endpoint === name))
  const all = dataset.summary.flatMap((row) => [row.latencyMs.p50, row.latencyMs.p90, row.latencyMs.p99]).filter((value) => value > 0)
  // One decade below the fastest figure, so a 1 ms bar is still a bar.
  const low = Math.pow(10, Math.floor(Math.log10(Math.min(...all, 1))) - 1)
  const high = Math.pow(10, Math.ceil(Math.log10(Math.max(...all, 10))))
  const labelWidth = 190
  const plotWidth = 560
  const scale = (ms: number) => labelWidth + (Math.log10(Math.max(ms, low) / low) / Math.log10(high / low)) * plotWidth
  const parts: string[] = []
  let y = 30
  for (let tick = low; tick <= high; tick *= 10) {
    parts.push(`<line x1="${scale(tick).toFixed(1)}" x2="${scale(tick).toFixed(1)}" y1="26" y2="100%" stroke="#ddd"/>`, `<text x="${scale(tick).toFixed(1)}" y="22" text-anchor="middle" fill="#666">${tick} ms</text>`)
  }
  for (const endpoint of endpoints) {
    parts.push(`<text x="0" y="${y + 24}" font-weight="600">${escapeXml(endpoint)}</text>`)
    y += 30
    for (const row of dataset.summary.filter((candidate) => candidate.endpoint === endpoint)) {
      const { p50, p90, p99 } = row.latencyMs
      parts.push(`<text x="${labelWidth - 8}" y="${y + 13}" text-anchor="end">${escapeXml(row.mode)}</text>`)
      for (const [value, opacity] of [[p99, 0.3], [p90, 0.6], [p50, 1]] as const) {
        parts.push(`<rect x="${labelWidth}" y="${y}" width="${Math.max(1, scale(value) - labelWidth).toFixed(1)}" height="18" fill="${colour(row.mode)}" fill-opacity="${opacity}"><title>${escapeXml(`${row.mode} ${endpoint}: p50 ${p50} ms, p90 ${p90} ms, p99 ${p99} ms`)}</title></rect>`)
      }
      parts.push(`<text x="${(scale(p99) + 6).toFixed(1)}" y="${y + 13}">${formatNumber(p50)} / ${formatNumber(p90)} / ${formatNumber(p99)}</text>`)
      y += 22
    }
    y += 10
  }
  return svg(labelWidth + plotWidth + 150, y, 'Latency p50 / p90 / p99 (ms, log scale)', parts)
}

/** p50 latency against dataset size, one line per mode and endpoint (only with several sizes). */
export function scalingChart (results: BenchResults): string {
  if (results.datasets.length < 2) return ''
  const sizes = results.datasets.map((dataset) => dataset.events)
  const series = results.datasets[0]!.summary.map((row) => ({
    name: `${row.mode}/${row.endpoint}`,
    mode: row.mode,
    values: results.datasets.map((dataset) => dataset.summary.find((other) => other.mode === row.mode && other.endpoint === row.endpoint)?.latencyMs.p50 ?? Number.NaN)
  }))
  const all = series.flatMap((line) => line.values).filter((value) => value > 0)
  const low = Math.pow(10, Math.floor(Math.log10(Math.max(0.1, Math.min(...all)))))
  const high = Math.pow(10, Math.ceil(Math.log10(Math.max(...all, 10))))
  const left = 70
  const width = 600
  const height = 320
  const x = (index: number) => left + (sizes.length === 1 ? 0 : (index / (sizes.length - 1)) * width)
  const y = (ms: number) => 30 + height - (Math.log10(Math.max(ms, low) / low) / Math.log10(high / low)) * height
  const parts: string[] = []
  for (let tick = low; tick <= high; tick *= 10) parts.push(`<line x1="${left}" x2="${left + width}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/><text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end" fill="#666">${tick} ms</text>`)
  sizes.forEach((size, index) => parts.push(`<text x="${x(index)}" y="${height + 50}" text-anchor="middle" fill="#666">${size.toLocaleString('en')} events</text>`))
  // Labels at the lines' right ends, pushed apart so that none overlaps another.
  const labels = series.map((line) => ({ line, at: y(line.values.at(-1) ?? low) })).sort((a, b) => a.at - b.at)
  labels.forEach((label, index) => { if (index > 0) label.at = Math.max(label.at, labels[index - 1]!.at + 13) })
  for (const { line, at } of labels) {
    const points = line.values.map((value, i) => `${x(i).toFixed(1)},${y(value).toFixed(1)}`).join(' ')
    parts.push(`<polyline points="${points}" fill="none" stroke="${colour(line.mode)}" stroke-width="2"><title>${escapeXml(line.name)}</title></polyline>`)
    parts.push(`<text x="${left + width + 8}" y="${(at + 4).toFixed(1)}" fill="${colour(line.mode)}">${escapeXml(line.name)}</text>`)
  }
  return svg(left + width + 230, Math.max(height + 70, (labels.at(-1)?.at ?? 0) + 20), 'p50 latency as the data grows (log scale)', parts)
}

function svg (width: number, height: number, title: string, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 10}" viewBox="0 0 ${width} ${height + 10}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="${escapeXml(title)}"><text x="0" y="14" font-size="14" font-weight="700">${escapeXml(title)}</text>${parts.join('')}</svg>`
}

/** One self-contained page: no scripts, no external assets. */
export function renderHtml (results: BenchResults): string {
  const sections = results.datasets.map((dataset) => `
    <h2>${dataset.events.toLocaleString('en')} events × ${dataset.guestsPerEvent} guests <small>(events list page ${(dataset.eventsListBytes / 1024).toFixed(1)} KB)</small></h2>
    <figure>${throughputChart(dataset)}</figure>
    <figure>${latencyChart(dataset)}</figure>
    <div class="wide"><table><thead><tr>${COLUMNS.map((column) => `<th>${escapeXml(column)}</th>`).join('')}</tr></thead>
    <tbody>${dataset.summary.map((row) => `<tr>${cells(row).map((cell) => `<td>${escapeXml(cell)}</td>`).join('')}</tr>`).join('')}</tbody></table></div>
    ${dataset.mix.length > 0 ? `<h3>Read/write mix</h3>${markdownTableToHtml(mixLines(dataset))}` : ''}${dataset.invalidationLag ? `<p>${escapeXml(lagLine(dataset))}</p>` : ''}${dataset.processScaling ? `<p>${escapeXml(processScalingLine(dataset.processScaling))}</p>` : ''}`).join('\n')
  const scaling = scalingChart(results)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>eventcache bench ${escapeXml(results.startedAt)}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
  table { border-collapse: collapse; font-size: 12px; margin: 1rem 0; }
  th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; white-space: nowrap; }
  th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
  figure { margin: 1.5rem 0; }
  .wide { overflow-x: auto; }
  ul { color: #444; }
</style></head><body>
<h1>eventcache bench</h1>
<ul>${describeRun(results).map((line) => `<li>${escapeXml(line)}</li>`).join('')}</ul>
${sections}
${scaling ? `<h2>Scaling</h2><p>Cached reads stay flat; uncached lists do not: <code>count(*)</code> reads every row and <code>OFFSET</code> walks past the skipped ones.</p><figure>${scaling}</figure>` : ''}
</body></html>
`
}

function markdownTableToHtml (lines: string[]): string {
  const [header, , ...body] = lines
  const split = (line: string) => line.split('|').slice(1, -1).map((cell) => escapeXml(cell.trim()))
  return `<table><thead><tr>${split(header ?? '').map((cell) => `<th>${cell}</th>`).join('')}</tr></thead><tbody>${body.map((line) => `<tr>${split(line).map((cell) => `<td>${cell}</td>`).join('')}</tr>`).join('')}</tbody></table>`
}
