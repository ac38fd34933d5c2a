// The run's parts in words, shared by the Markdown report and the HTML page: its header, and what
// each step measured.
import { formatNumber } from '../format.ts'
import { rowName, type BenchResults, type DatasetResult } from '../results.ts'
import { BASELINE_MODE, MODE } from '../scenarios.ts'
import { EXPIRY_PATH } from '../steps/expiry.ts'

/** `2026-11-29 14:03` from an ISO time (UTC). */
const minute = (iso: string) => iso.slice(0, 16).replace('T', ' ')

/** When, where and how the run was made: the report's header. */
export function describeRun (results: BenchResults): string[] {
  const { machine, node, versions, commit, dirty } = results.environment
  const [start, end] = [minute(results.startedAt), minute(results.finishedAt)]
  const until = end.slice(0, 10) === start.slice(0, 10) ? end.slice(11) : end
  const { rounds, durationSeconds, connections } = results.options
  return [
    `Ran ${start}–${until} UTC${results.command ? `: \`${results.command}\`` : ''}`,
    `Commit ${commit}${dirty ? ' (dirty: tracked files had uncommitted changes)' : ''}`,
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${node}`,
    `Versions: ${Object.entries(versions).map(([name, version]) => `${name} ${version}`).join(', ')}`,
    `${rounds} round(s) × ${durationSeconds} s per row, ${connections} connections; ` +
      'ratios are paired within each round, shown as median [min–max] over rounds',
    ...results.notes
  ]
}

/** The events list's bytes per coding, and what compressing each list page adds to a miss. */
export function compressionLines (dataset: DatasetResult): string[] {
  const lines: string[] = []
  const encoded = Object.entries(dataset.eventsListEncodedBytes ?? {})
  if (encoded.length > 1) {
    const identity = dataset.eventsListBytes
    const sizes = encoded.map(([encoding, bytes]) => {
      return `${encoding} ${bytes.toLocaleString('en')} B (${formatNumber(bytes / identity * 100)}%)`
    })
    lines.push(`Events list page as the ceiling (and a hit) sends it: ${sizes.join(', ')}.`, '')
  }
  if (!dataset.compression?.length) return lines
  const codings = dataset.compression[0]!.codings.map((coding) => coding.encoding)
  lines.push(
    'What compressing adds to a miss (the cache\'s own compression of the page, median of ' +
      `${dataset.compression[0]!.samples}; a fill makes every coding at once before the miss answers):`,
    '',
    `| page | identity B | ${codings.map((coding) => `${coding} B | ${coding} ms`).join(' | ')} | fill ms |`,
    `|---|---|${codings.map(() => '---|---').join('|')}|---|`,
    ...dataset.compression.map((cost) => {
      const cells = cost.codings.map((coding) => `${coding.bytes.toLocaleString('en')} | ${formatNumber(coding.ms)}`)
      return `| ${cost.endpoint} | ${cost.identityBytes.toLocaleString('en')} | ${cells.join(' | ')} | ` +
        `${formatNumber(cost.fillMs)} |`
    }),
    ''
  )
  return lines
}

export function mixLines (dataset: DatasetResult): string[] {
  if (dataset.mix.length === 0) return []
  const baseline = dataset.mix.find((mix) => mix.mode === BASELINE_MODE)
  const rows = dataset.mix.map((mix) => [
    mix.mode,
    formatNumber(mix.requestsPerSecond),
    mix.reads,
    mix.writes,
    (mix.hitRatio * 100).toFixed(1),
    `${mix.readLatencyMs.p50} / ${mix.readLatencyMs.p99}`,
    `${mix.writeLatencyMs.p50} / ${mix.writeLatencyMs.p99}`,
    baseline && mix.mode !== baseline.mode ? (mix.writeLatencyMs.p50 - baseline.writeLatencyMs.p50).toFixed(2) : '–',
    mix.staleReads,
    mix.errors + mix.non2xx
  ])
  return [
    '| mode | req/s | reads | writes | hit % | read p50/p99 ms | write p50/p99 ms | write cost vs off (p50 ms) | ' +
      'stale reads | errors |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`)
  ]
}

export function lagLine ({ invalidationLag: lag }: DatasetResult): string {
  if (lag === undefined) return ''
  return `Invalidation lag across instances (${MODE.tieredPair}: a write acknowledged by instance 1 → ` +
    `instance 2 serves the new state), ${lag.samples} writes: p50 ${formatNumber(lag.p50)} ms, ` +
    `p99 ${formatNumber(lag.p99)} ms, max ${formatNumber(lag.max)} ms.`
}

export function databaseLagLines ({ databaseLag }: DatasetResult): string[] {
  if (databaseLag === undefined || databaseLag.length === 0) return []
  return [
    'Lag of writes made in SQL (an UPDATE committed on a connection of its own → both of two instances serve the ' +
      'new state):',
    '',
    '| mode | writes | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    ...databaseLag.map(({ mode, samples, p50, p99, max }) =>
      `| ${mode} | ${samples} | ${[p50, p99, max].map(formatNumber).join(' | ')} |`),
    ''
  ]
}

export function expiryLines ({ expiry }: DatasetResult): string[] {
  if (expiry === undefined || expiry.length === 0) return []
  const { ttlSeconds } = expiry[0]!
  return [
    `A hot key expiring under load (\`GET ${EXPIRY_PATH}\`, TTL ${ttlSeconds} s): the reads that waited for a load, ` +
      'and the tail, with and without refresh-ahead:',
    '',
    '| mode | refresh-ahead | expiries | requests | reads that waited | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|---|---|---|',
    ...expiry.map(({ mode, refreshAhead, expiries, requests, misses, latencyMs: { p50, p99, max } }) =>
      `| ${mode} | ${refreshAhead ? 'on' : 'off'} | ${expiries} | ${requests} | ${misses} | ` +
      `${[p50, p99, max].map(formatNumber).join(' | ')} |`),
    ''
  ]
}

/** Why uncached lists slow down as the data grows: the sentence under the scaling table and chart. */
export const GROWTH = 'Cached reads stay flat; uncached lists do not: `count(*)` reads every row and `OFFSET` walks ' +
  'past the skipped ones, so both grow with the table.'

/** The p50 of one row in every dataset, by the first dataset's rows: the data for the growth table and chart. */
export function growthSeries (results: BenchResults) {
  return results.datasets[0]!.summary.map((row) => ({
    name: rowName(row),
    mode: row.mode,
    values: results.datasets.map((dataset) => dataset.summary
      .find((other) => rowName(other) === rowName(row))?.latencyMs.p50)
  }))
}

export function datasetTitle (dataset: DatasetResult): string {
  return `${dataset.events.toLocaleString('en')} events × ${dataset.guestsPerEvent} guests`
}

/** What one request costs in instructions, and how they were counted. */
export const INSTRUCTIONS_INTRO = 'Instructions the server process executes per request, counted by callgrind ' +
  '(bench/README.md says how): a hit, a miss, the same request with the cache off (uncached), and the ' +
  'constant-bytes ceiling sending the same bytes; the header ceiling sends them with the headers a hit sends, ' +
  'and getBuffer reads them from Redis on a bare route; loaded: hits and ceiling requests arriving 50 at once; ' +
  'mean ÷ cheapest: the mean window over the cheapest, which a garbage collection every few hundred hits raises.'
