// The table of rows, one line per mode, endpoint and coding: the terminal's, and the reports'.
import { formatNumber, ratio } from '../format.ts'
import type { RowSummary } from '../results.ts'
import { BASELINE_MODE, encodingOf, isReference, MODE, REDIS_PEER } from '../scenarios.ts'

export const COLUMNS = [
  'mode', 'endpoint', 'encoding', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'hit %',
  'queries/req', 'KB/resp', `×${BASELINE_MODE}`, 'ceiling (req/s)', 'ceiling (CPU)', 'header ceiling (CPU)',
  `${REDIS_PEER} (CPU)`, '×1 instance',
  `CPU ×${MODE.memory}`, 'µs CPU/req'
]

export function cells (row: RowSummary): string[] {
  return [
    row.mode,
    row.endpoint,
    encodingOf(row),
    formatNumber(row.requestsPerSecond.median),
    formatNumber(row.latencyMs.p50),
    formatNumber(row.latencyMs.p90),
    formatNumber(row.latencyMs.p99),
    formatNumber(row.latencyMs.max),
    String(row.errors),
    String(row.non2xx),
    isReference(row.mode) ? '–' : (row.hitRatio * 100).toFixed(1),
    isReference(row.mode) ? '–' : row.queriesPerRequest.toFixed(2),
    (row.bytesPerResponse / 1024).toFixed(1),
    ratio(row.speedup, '×'),
    ratio(row.ceilingShare, ''),
    ratio(row.ceilingCpuShare, ''),
    ratio(row.headerCeilingCpuShare, ''),
    ratio(row.redisPeerCpuShare, ''),
    ratio(row.scaling, '×'),
    ratio(row.cpuOverPrecompressed, '×'),
    formatNumber(row.cpuMicrosPerRequest.median)
  ]
}

export function renderTable (rows: readonly RowSummary[]): string {
  const table = [COLUMNS, ...rows.map(cells)]
  const widths = COLUMNS.map((_, column) => Math.max(...table.map((line) => line[column]!.length)))
  return table.map((line, index) => {
    const padded = line.map((cell, column) => {
      return column < 3 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)
    })
    const text = padded.join('  ')
    return index === 0 ? `${text}\n${'-'.repeat(text.length)}` : text
  }).join('\n')
}
