import t from 'tap'
import { latencyChart, scalingChart, throughputChart } from '../../bench/report/charts.ts'
import { renderHtml } from '../../bench/report/html.ts'
import { renderMarkdown } from '../../bench/report/markdown.ts'
import { renderTable } from '../../bench/report/table.ts'
import { summarise, type Row } from '../../bench/results.ts'
import { HEADER_CEILING, MODE, MODES, REDIS_PEER } from '../../bench/scenarios.ts'
import { dataset, load, processScaling, results, rows } from './fixtures.ts'

t.test('reports: terminal table, Markdown, and a self-contained HTML page with SVG charts', async (t) => {
  const table = renderTable(dataset().summary)
  t.match(table, /^mode\s+endpoint\s+encoding\s+req\/s/)
  t.match(table, /memory\s+events-list\s+identity\s+9000 .* 9\.00× \[9\.00–9\.00\]/)

  const markdown = renderMarkdown(results())
  t.match(markdown, /^# eventcache bench/)
  t.match(markdown, /\| memory \| events-list \| identity \| 9000 \|/)
  t.match(markdown, /\| memory \| 10\.0 \| 95 \| 5 \| 90\.0 \| 1 \/ 4 \| 3\.5 \/ 9 \| 0\.50 \| 0 \| 0 \|/,
    'mix with the write cost over off')
  t.notMatch(markdown, /How latency grows/, 'no scaling section for one size')

  const html = renderHtml(results())
  t.match(html, /^<!doctype html>/)
  t.equal((html.match(/<svg /g) ?? []).length, 2, 'throughput and latency charts')
  t.notMatch(html, /<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no scripts and no external assets')
  t.match(html, /Test CPU &#60;&#38;&#62;/, 'text is escaped')
  t.match(throughputChart(dataset()), /<rect [^>]*fill="#3b7dd8"/)
  t.match(latencyChart(dataset()), /log scale/)

  const scaled = results([dataset(1000), dataset(100_000)])
  t.match(renderMarkdown(scaled),
    /How latency grows with the data[\s\S]*\| off\+join\/events-list \| 1\.00 \| 1\.00 \|/)
  t.match(scalingChart(scaled), /<polyline /)
  t.equal((renderHtml(scaled).match(/<svg /g) ?? []).length, 5, 'two charts per size and the scaling chart')
  t.equal(scalingChart(results()), '')
})

t.test('the throughput table shows the header ceiling\'s and the Redis peer\'s CPU shares', async (t) => {
  const measured: Row[] = [
    ...rows(),
    { mode: HEADER_CEILING, endpoint: 'events-list', rounds: [load(9500, 45), load(4750, 90), load(9500, 45)] },
    { mode: REDIS_PEER, endpoint: 'events-list', rounds: [load(6000, 75), load(3000, 150), load(6000, 75)] }
  ]
  const summary = summarise(measured, MODES)
  t.match(renderTable(summary), /ceiling \(CPU\)\s+header ceiling \(CPU\)\s+getBuffer \(CPU\)/)
  const markdown = renderMarkdown(results([{ ...dataset(), summary }]))
  const shares = '0\\.80 \\[0\\.80–0\\.80\\] \\| 0\\.90 \\[0\\.90–0\\.90\\] \\| 1\\.50 \\[1\\.50–1\\.50\\]'
  t.match(markdown, new RegExp(`\\| memory \\| events-list \\| identity \\|.*\\| ${shares} \\|`))
  t.match(markdown, /\| getBuffer \| events-list \| identity \| 6000 \|( [^|]+ \|){6} – \| – \|/,
    'a reference: no hit % or queries')
  const html = renderHtml(results([{ ...dataset(), summary }]))
  t.match(html, /<th>header ceiling \(CPU\)<\/th><th>getBuffer \(CPU\)<\/th>/)
})

t.test('the report says when, on what machine and at which commit it ran', async (t) => {
  const markdown = renderMarkdown(results())
  t.match(markdown, /^- Ran 2026-11-29 00:00–00:10 UTC: `npm run bench -- --quick`$/m)
  t.match(markdown, /^- Commit abc123$/m)
  t.match(markdown, /^- Machine: Test CPU <&>, 2 cores, 24 GiB, Linux; Node v20$/m)
  t.match(markdown, /^- Versions: fastify 5$/m)
  t.match(markdown, /^- 3 round\(s\) × 10 s per row, 20 connections; ratios are paired/m)
  t.match(markdown, /^- Redis: none$/m, 'the run\'s notes')

  const dirty = results()
  dirty.environment.dirty = true
  dirty.finishedAt = '2026-11-30T01:02:00.000Z'
  const text = renderMarkdown(dirty)
  t.match(text, /^- Commit abc123 \(dirty: tracked files had uncommitted changes\)$/m)
  t.match(text, /^- Ran 2026-11-29 00:00–2026-11-30 01:02 UTC/m, 'a run past midnight names both dates')
  t.match(renderHtml(dirty),
    /<li>Ran 2026-11-29 00:00–2026-11-30 01:02 UTC: <code>npm run bench -- --quick<\/code><\/li>/)

  const older = results()
  delete older.command
  delete older.environment.dirty
  t.match(renderMarkdown(older), /^- Ran 2026-11-29 00:00–00:10 UTC$/m, 'an older result file still renders')
})

t.test('the two-instance row, the lag and process scaling in the report', async (t) => {
  const scaled: Row[] = [
    ...rows(),
    { mode: MODE.tiered, endpoint: 'events-list', rounds: [load(6000, 60), load(3000, 120), load(6000, 60)] },
    { mode: MODE.tieredPair, endpoint: 'events-list', rounds: [load(9000, 70), load(4500, 140), load(9000, 70)] }
  ]
  const summary = summarise(scaled, MODES)
  const lag = { samples: 50, p50: 1.2, p99: 4.5, max: 7 }
  const markdown = renderMarkdown(results([{ ...dataset(), summary, invalidationLag: lag }]))
  t.match(markdown,
    /Invalidation lag across instances \(tiered-x2: .* 50 writes: p50 1\.20 ms, p99 4\.50 ms, max 7\.00 ms\./)
  t.match(markdown, /\| tiered-x2 \| events-list \|.*\| 1\.50× \[1\.50–1\.50\] \|/)
  t.notMatch(markdown, /×2/, 'mode names in ASCII')

  const withScaling = renderMarkdown(results([{ ...dataset(), processScaling: processScaling(1.8) }]))
  t.match(withScaling, new RegExp('Two processes against one .* wrk with 32 connections.*: one 5000 req/s, ' +
    'two 9000 req/s, 1\\.80× \\[1\\.70–1\\.90\\] .*machine CPU busy 60% → 98%, ' +
    'throughput per busy CPU 1\\.10× one process\'s'))
  t.notMatch(renderMarkdown(results()), /Two processes against one/)
})

t.test('the report gives the list page per coding and what compressing adds to a miss', async (t) => {
  const measured = {
    ...dataset(),
    eventsListEncodedBytes: { identity: 38_000, br: 5_700 },
    compression: [{
      endpoint: 'events-list',
      identityBytes: 38_000,
      codings: [
        { encoding: 'br' as const, bytes: 5_700, ms: 1.2 },
        { encoding: 'gzip' as const, bytes: 7_600, ms: 0.6 }
      ],
      fillMs: 1.3,
      samples: 30
    }]
  }
  const markdown = renderMarkdown(results([measured]))
  t.match(markdown, /identity 38,000 B \(100%\), br 5,700 B \(15\.0%\)/)
  t.match(markdown, /\| page \| identity B \| br B \| br ms \| gzip B \| gzip ms \| fill ms \|/)
  t.match(markdown, /\| events-list \| 38,000 \| 5,700 \| 1\.20 \| 7,600 \| 0\.60 \| 1\.30 \|/)
})

t.test('the report tells a hot key\'s expiries with and without refresh-ahead; older files have none', async (t) => {
  const measured = (refreshAhead: boolean, misses: number, max: number) => ({
    mode: MODE.redis,
    refreshAhead,
    ttlSeconds: 1,
    expiries: 4,
    requests: 8000,
    misses,
    latencyMs: { p50: 1.5, p99: 6, max }
  })
  const markdown = renderMarkdown(results([{ ...dataset(), expiry: [measured(false, 40, 60), measured(true, 0, 9)] }]))
  t.match(markdown, /A hot key expiring under load \(`GET \/events\?limit=100`, TTL 1 s\)/)
  t.match(markdown, /\| redis \| off \| 4 \| 8000 \| 40 \| 1\.50 \| 6\.00 \| 60\.0 \|/)
  t.match(markdown, /\| redis \| on \| 4 \| 8000 \| 0 \| 1\.50 \| 6\.00 \| 9\.00 \|/)
  t.notMatch(renderMarkdown(results()), /A hot key expiring/)
})
