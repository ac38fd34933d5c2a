// SVG charts for the HTML report: drawn here as text, so the page needs no scripts or assets.
import { formatNumber } from '../format.ts'
import type { BenchResults, DatasetResult, RowSummary } from '../results.ts'
import { CEILING, encodingOf, ENDPOINTS, HEADER_CEILING, MODE, REDIS_PEER } from '../scenarios.ts'
import { growthSeries } from './sections.ts'

const PALETTE: Record<string, string> = {
  [MODE.offNaive]: '#b0413e',
  [MODE.offJoin]: '#e07b39',
  [MODE.memory]: '#3b7dd8',
  [MODE.redis]: '#2a9d8f',
  [MODE.tiered]: '#7b5ea7',
  [MODE.tieredPair]: '#a58bd1',
  [MODE.compressingPeer]: '#9ab7e6',
  [CEILING]: '#6c757d',
  [HEADER_CEILING]: '#9aa1a8',
  [REDIS_PEER]: '#8fc9c1'
}
const colour = (mode: string) => PALETTE[mode] ?? '#888'

/** A bar's label: its mode, and its coding when the requests accepted one. */
const rowLabel = (row: RowSummary) => encodingOf(row) === 'identity' ? row.mode : `${row.mode} ${encodingOf(row)}`

export function escapeXml (text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}

const LABEL_WIDTH = 190
const PLOT_WIDTH = 560

/** The endpoints a dataset measured, in the order of ENDPOINTS. */
function measuredEndpoints (dataset: DatasetResult): string[] {
  const measured = new Set(dataset.summary.map((row) => row.endpoint))
  return ENDPOINTS.map((endpoint) => endpoint.name).filter((name) => measured.has(name))
}

/** Grouped horizontal bars: one group per endpoint, one bar per mode. */
export function throughputChart (dataset: DatasetResult): string {
  const endpoints = measuredEndpoints(dataset)
  const rows = endpoints.flatMap((endpoint) => dataset.summary.filter((row) => row.endpoint === endpoint))
  const max = Math.max(1, ...rows.map((row) => row.requestsPerSecond.max))
  const x = (rps: number) => LABEL_WIDTH + (rps / max) * PLOT_WIDTH
  const barHeight = 18
  let y = 30
  const parts: string[] = []
  for (const endpoint of endpoints) {
    parts.push(`<text x="0" y="${y + 12}" font-weight="600">${escapeXml(endpoint)}</text>`)
    y += 18
    for (const row of dataset.summary.filter((candidate) => candidate.endpoint === endpoint)) {
      const { median, min, max: most } = row.requestsPerSecond
      const width = x(median) - LABEL_WIDTH
      const title = `${rowLabel(row)} ${endpoint}: ${formatNumber(median)} req/s`
      const middle = y + barHeight / 2
      parts.push(
        `<text x="${LABEL_WIDTH - 8}" y="${y + 13}" text-anchor="end">${escapeXml(rowLabel(row))}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" ` +
          `fill="${colour(row.mode)}"><title>${escapeXml(title)}</title></rect>`,
        `<line x1="${x(min).toFixed(1)}" x2="${x(most).toFixed(1)}" y1="${middle}" y2="${middle}" ` +
          'stroke="#222" stroke-width="1.5"/>',
        `<text x="${(Math.max(LABEL_WIDTH + width, x(most)) + 6).toFixed(1)}" y="${y + 13}">` +
          `${formatNumber(median)}</text>`
      )
      y += barHeight + 4
    }
    y += 14
  }
  return svg(LABEL_WIDTH + PLOT_WIDTH + 90, y, 'Throughput, median req/s (line: min–max over rounds)', parts)
}

/** Latency percentiles on a log scale: p99 (light) behind p90 behind p50 (dark), per mode and endpoint. */
export function latencyChart (dataset: DatasetResult): string {
  const endpoints = measuredEndpoints(dataset)
  const all = dataset.summary.flatMap((row) => [row.latencyMs.p50, row.latencyMs.p90, row.latencyMs.p99])
    .filter((value) => value > 0)
  // One decade below the fastest figure, so a 1 ms bar is still a bar.
  const low = Math.pow(10, Math.floor(Math.log10(Math.min(...all, 1))) - 1)
  const high = Math.pow(10, Math.ceil(Math.log10(Math.max(...all, 10))))
  const decades = Math.log10(high / low)
  const scale = (ms: number) => LABEL_WIDTH + (Math.log10(Math.max(ms, low) / low) / decades) * PLOT_WIDTH
  const parts: string[] = []
  let y = 30
  for (let tick = low; tick <= high; tick *= 10) {
    const at = scale(tick).toFixed(1)
    parts.push(
      `<line x1="${at}" x2="${at}" y1="26" y2="100%" stroke="#ddd"/>`,
      `<text x="${at}" y="22" text-anchor="middle" fill="#666">${tick} ms</text>`
    )
  }
  for (const endpoint of endpoints) {
    parts.push(`<text x="0" y="${y + 24}" font-weight="600">${escapeXml(endpoint)}</text>`)
    y += 30
    for (const row of dataset.summary.filter((candidate) => candidate.endpoint === endpoint)) {
      const { p50, p90, p99 } = row.latencyMs
      const title = escapeXml(`${rowLabel(row)} ${endpoint}: p50 ${p50} ms, p90 ${p90} ms, p99 ${p99} ms`)
      parts.push(`<text x="${LABEL_WIDTH - 8}" y="${y + 13}" text-anchor="end">${escapeXml(rowLabel(row))}</text>`)
      for (const [value, opacity] of [[p99, 0.3], [p90, 0.6], [p50, 1]] as const) {
        const width = Math.max(1, scale(value) - LABEL_WIDTH).toFixed(1)
        parts.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${width}" height="18" fill="${colour(row.mode)}" ` +
          `fill-opacity="${opacity}"><title>${title}</title></rect>`)
      }
      const figures = `${formatNumber(p50)} / ${formatNumber(p90)} / ${formatNumber(p99)}`
      parts.push(`<text x="${(scale(p99) + 6).toFixed(1)}" y="${y + 13}">${figures}</text>`)
      y += 22
    }
    y += 10
  }
  return svg(LABEL_WIDTH + PLOT_WIDTH + 150, y, 'Latency p50 / p90 / p99 (ms, log scale)', parts)
}

/** p50 latency against dataset size, one line per mode and endpoint (only with several sizes). */
export function scalingChart (results: BenchResults): string {
  if (results.datasets.length < 2) return ''
  const sizes = results.datasets.map((dataset) => dataset.events)
  const series = growthSeries(results).map((line) => ({
    ...line,
    values: line.values.map((value) => value ?? Number.NaN)
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
  for (let tick = low; tick <= high; tick *= 10) {
    parts.push(`<line x1="${left}" x2="${left + width}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/>` +
      `<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end" fill="#666">${tick} ms</text>`)
  }
  sizes.forEach((size, index) => parts.push(`<text x="${x(index)}" y="${height + 50}" text-anchor="middle" ` +
    `fill="#666">${size.toLocaleString('en')} events</text>`))
  // Labels at the lines' right ends, pushed apart so that none overlaps another.
  const labels = series.map((line) => ({ line, at: y(line.values.at(-1) ?? low) })).sort((a, b) => a.at - b.at)
  labels.forEach((label, index) => { if (index > 0) label.at = Math.max(label.at, labels[index - 1]!.at + 13) })
  for (const { line, at } of labels) {
    const points = line.values.map((value, i) => `${x(i).toFixed(1)},${y(value).toFixed(1)}`).join(' ')
    const stroke = colour(line.mode)
    parts.push(
      `<polyline points="${points}" fill="none" stroke="${stroke}" stroke-width="2">` +
        `<title>${escapeXml(line.name)}</title></polyline>`,
      `<text x="${left + width + 8}" y="${(at + 4).toFixed(1)}" fill="${stroke}">${escapeXml(line.name)}</text>`
    )
  }
  const chartHeight = Math.max(height + 70, (labels.at(-1)?.at ?? 0) + 20)
  return svg(left + width + 230, chartHeight, 'p50 latency as the data grows (log scale)', parts)
}

function svg (width: number, height: number, title: string, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 10}" ` +
    `viewBox="0 0 ${width} ${height + 10}" font-family="system-ui, sans-serif" font-size="12" role="img" ` +
    `aria-label="${escapeXml(title)}"><text x="0" y="14" font-size="14" font-weight="700">${escapeXml(title)}</text>` +
    `${parts.join('')}</svg>`
}
