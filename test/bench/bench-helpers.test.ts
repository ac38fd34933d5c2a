import t from 'tap'
import { parseBenchArgs, UsageError } from '../../bench/args.ts'
import { checkThresholds, compareRuns, formatCheck, type Thresholds } from '../../bench/check.ts'
import type { LoadResult } from '../../bench/load.ts'
import { latencyChart, renderHtml, renderMarkdown, renderTable, scalingChart, throughputChart } from '../../bench/report.ts'
import { summarise, type BenchResults, type DatasetResult, type Row } from '../../bench/results.ts'
import { median, pairedRatio, spread } from '../../bench/stats.ts'

function load (requestsPerSecond: number, cpuMicrosPerRequest: number, extra: Partial<LoadResult> = {}): LoadResult {
  return {
    requests: requestsPerSecond * 10,
    requestsPerSecond,
    latencyMs: { p50: 1000 / requestsPerSecond, p90: 2000 / requestsPerSecond, p99: 5000 / requestsPerSecond, max: 100 },
    errors: 0,
    non2xx: 0,
    bytesPerResponse: 38_000,
    cpuMicrosPerRequest,
    generatorCpuMicrosPerRequest: 100,
    cacheHits: 0,
    dbQueries: requestsPerSecond * 10,
    ...extra
  }
}

/** Three rounds on a machine that halves its speed in round 2: ratios must not notice. */
function rows (): Row[] {
  return [
    { mode: 'off+join', endpoint: 'events-list', rounds: [load(1000, 900), load(500, 1800), load(1000, 900)] },
    { mode: 'memory', endpoint: 'events-list', rounds: [load(9000, 50, { cacheHits: 90_000, dbQueries: 0 }), load(4500, 100, { cacheHits: 45_000, dbQueries: 0 }), load(9000, 50, { cacheHits: 90_000, dbQueries: 0 })] },
    { mode: 'ceiling', endpoint: 'events-list', rounds: [load(10_000, 40), load(5000, 80), load(10_000, 40)] },
    { mode: 'off+join', endpoint: 'event-detail', rounds: [load(5000, 100), load(5000, 100), load(5000, 100)] },
    { mode: 'memory', endpoint: 'event-detail', rounds: [load(15_000, 40), load(15_000, 40), load(15_000, 40)] }
  ]
}

function dataset (events = 1000, mix = true): DatasetResult {
  const summary = summarise(rows())
  return {
    events,
    guestsPerEvent: 10,
    eventsListBytes: 38_000,
    rows: rows(),
    summary,
    mix: mix
      ? [
          { mode: 'off+join', requests: 100, requestsPerSecond: 10, reads: 95, writes: 5, hitRatio: 0, readLatencyMs: { p50: 2, p99: 9 }, writeLatencyMs: { p50: 3, p99: 9 }, errors: 0, non2xx: 0, staleReads: 0 },
          { mode: 'memory', requests: 100, requestsPerSecond: 10, reads: 95, writes: 5, hitRatio: 0.9, readLatencyMs: { p50: 1, p99: 4 }, writeLatencyMs: { p50: 3.5, p99: 9 }, errors: 0, non2xx: 0, staleReads: 0 }
        ]
      : []
  }
}

function results (datasets: DatasetResult[] = [dataset()]): BenchResults {
  return {
    format: 1,
    startedAt: '2026-11-29T00:00:00.000Z',
    finishedAt: '2026-11-29T00:10:00.000Z',
    environment: { machine: { cpu: 'Test CPU <&>', cores: 2, memoryGiB: 24, os: 'Linux' }, node: 'v20', versions: { fastify: '5' }, commit: 'abc123' },
    options: { durationSeconds: 10, connections: 20, rounds: 3, quick: false },
    notes: ['Redis: none'],
    datasets
  }
}

t.test('arguments: defaults, --quick, lists, and clear errors', async (t) => {
  const defaults = parseBenchArgs([])
  t.same([defaults.events, defaults.guestsPerEvent, defaults.durationSeconds, defaults.connections, defaults.rounds], [[10_000], 10, 10, 20, 3])
  t.equal(defaults.outputDir, 'bench/results')
  const quick = parseBenchArgs(['--quick', '--check'])
  t.same([quick.events, quick.durationSeconds, quick.quick, quick.check], [[1000], 2, true, true])
  t.same(parseBenchArgs(['--events', '1000,100000, 1000000']).events, [1000, 100_000, 1_000_000])
  t.same(parseBenchArgs(['--quick', '--duration', '5']).durationSeconds, 5, 'an explicit flag wins over --quick')
  t.same(parseBenchArgs(['--endpoints', 'events-list,mix']).endpoints, ['events-list', 'mix'])
  t.same(parseBenchArgs(['--compare', 'a.json', 'b.json']).compare, ['a.json', 'b.json'])
  t.throws(() => parseBenchArgs(['--events', 'lots']), new UsageError('--events must be a positive whole number, got "lots"'))
  t.throws(() => parseBenchArgs(['--rounds', '0']), { message: /--rounds must be a positive whole number/ })
  t.throws(() => parseBenchArgs(['--compare', 'a.json']), { message: /--compare takes two result files/ })
  t.throws(() => parseBenchArgs(['--fast']), { name: 'UsageError', message: /--fast/ })
  t.throws(() => parseBenchArgs(['stray']), { message: /unexpected argument "stray"/ })
})

t.test('ratio maths: medians of ratios paired within rounds', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2, 'the lower middle: a value that was measured')
  t.ok(Number.isNaN(median([])))
  t.same(spread([2, 8, 4]), { median: 4, min: 2, max: 8 })
  t.same(pairedRatio([10, 5, 10], [1, 0.5, 1]), { median: 10, min: 10, max: 10 }, 'a machine slowing down in round 2 does not move the ratio')
  t.same(pairedRatio([10, 20], [0, 2]), { median: 10, min: 10, max: 10 }, 'a zero denominator is left out')

  const summary = summarise(rows())
  const memory = summary.find((row) => row.mode === 'memory' && row.endpoint === 'events-list')!
  t.same(memory.speedup, { median: 9, min: 9, max: 9 })
  t.same(memory.ceilingShare, { median: 0.9, min: 0.9, max: 0.9 })
  t.same(memory.ceilingCpuShare, { median: 0.8, min: 0.8, max: 0.8 })
  t.equal(memory.hitRatio, 1)
  t.equal(memory.queriesPerRequest, 0)
  t.equal(memory.requestsPerSecond.median, 9000)
  t.equal(summary.find((row) => row.mode === 'memory' && row.endpoint === 'event-detail')!.ceilingShare, undefined, 'the ceiling only serves the events list')
  t.equal(summary.find((row) => row.mode === 'ceiling')!.speedup, undefined)
})

t.test('--check: passes, fails naming the ratio and its value, skips modes not measured', async (t) => {
  const thresholds: Thresholds = {
    ratios: [
      { mode: 'memory', endpoint: 'events-list', metric: 'speedup', min: 5 },
      { mode: 'memory', endpoint: 'events-list', metric: 'ceilingCpuShare', min: 0.9 },
      { mode: 'redis', endpoint: 'events-list', metric: 'speedup', min: 2 },
      { mode: 'memory', endpoint: 'guests-list', metric: 'speedup', min: 2 },
      { mode: 'memory', endpoint: 'event-detail', metric: 'speedup', max: 2 }
    ],
    mix: [{ mode: 'memory', metric: 'staleReads', max: 0 }, { mode: 'memory', metric: 'hitRatio', min: 0.95 }]
  }
  const outcomes = checkThresholds(results(), thresholds)
  t.same(outcomes.map((outcome) => [outcome.name, outcome.status]), [
    ['memory/events-list/speedup', 'ok'],
    ['memory/events-list/ceilingCpuShare', 'failed'],
    ['redis/events-list/speedup', 'skipped'],
    ['memory/guests-list/speedup', 'failed'],
    ['memory/event-detail/speedup', 'failed'],
    ['mix/memory/staleReads', 'ok'],
    ['mix/memory/hitRatio', 'failed']
  ])
  const text = formatCheck(outcomes)
  t.match(text, /FAILED {2}memory\/events-list\/ceilingCpuShare: 0\.80 \(threshold ≥ 0\.9\)/)
  t.match(text, /FAILED {2}memory\/guests-list\/speedup: not measured/)
  t.match(text, /FAILED {2}memory\/event-detail\/speedup: 3\.00 \(threshold ≤ 2\)/)
  t.match(text, /skipped redis\/events-list\/speedup/)
  t.match(text, /bench check failed: 4 ratio\(s\) below threshold$/)
  t.match(formatCheck(outcomes.filter((outcome) => outcome.status !== 'failed')), /bench check passed$/)
})

t.test('--compare: the change per row between two runs', async (t) => {
  const before = results()
  const after = results([{ ...dataset(), summary: summarise(rows().map((row) => row.mode === 'memory' ? { ...row, rounds: row.rounds.map((round) => ({ ...round, requestsPerSecond: round.requestsPerSecond / 2 })) } : row)) }])
  const text = compareRuns(before, after)
  t.match(text, /memory\/events-list\s+9000→4500 \(-50%\)/)
  t.match(text, /off\+join\/events-list\s+1000→1000 \(\+0%\)/)
})

t.test('reports: terminal table, Markdown, and a self-contained HTML page with SVG charts', async (t) => {
  const table = renderTable(dataset().summary)
  t.match(table, /^mode\s+endpoint\s+req\/s/)
  t.match(table, /memory\s+events-list\s+9000 .* 9\.00× \[9\.00–9\.00\]/)

  const markdown = renderMarkdown(results())
  t.match(markdown, /^# eventcache bench/)
  t.match(markdown, /\| memory \| events-list \| 9000 \|/)
  t.match(markdown, /\| memory \| 10\.0 \| 95 \| 5 \| 90\.0 \| 1 \/ 4 \| 3\.5 \/ 9 \| 0\.50 \| 0 \| 0 \|/, 'mix with the write cost over off')
  t.notMatch(markdown, /How latency grows/, 'no scaling section for one size')

  const html = renderHtml(results())
  t.match(html, /^<!doctype html>/)
  t.equal((html.match(/<svg /g) ?? []).length, 2, 'throughput and latency charts')
  t.notMatch(html, /<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no scripts and no external assets')
  t.match(html, /Test CPU &#60;&#38;&#62;/, 'text is escaped')
  t.match(throughputChart(dataset()), /<rect [^>]*fill="#3b7dd8"/)
  t.match(latencyChart(dataset()), /log scale/)

  const scaled = results([dataset(1000), dataset(100_000)])
  t.match(renderMarkdown(scaled), /How latency grows with the data[\s\S]*\| off\+join\/events-list \| 1\.00 \| 1\.00 \|/)
  t.match(scalingChart(scaled), /<polyline /)
  t.equal((renderHtml(scaled).match(/<svg /g) ?? []).length, 5, 'two charts per size and the scaling chart')
  t.equal(scalingChart(results()), '')
})

t.test('a multi-instance row is compared with its one-instance mode, round by round; the lag is reported', async (t) => {
  const scaled: Row[] = [
    ...rows(),
    { mode: 'tiered', endpoint: 'events-list', rounds: [load(6000, 60), load(3000, 120), load(6000, 60)] },
    { mode: 'tiered×2', endpoint: 'events-list', rounds: [load(9000, 70), load(4500, 140), load(9000, 70)] }
  ]
  const summary = summarise(scaled, [{ name: 'tiered', env: {} }, { name: 'tiered×2', env: {}, instances: 2, scales: 'tiered' }])
  t.equal(summary.find((row) => row.mode === 'tiered×2')!.scaling!.median, 1.5, '1.5× in every round, whatever the machine did')
  t.equal(summary.find((row) => row.mode === 'tiered')!.scaling, undefined)
  const markdown = renderMarkdown(results([{ ...dataset(), summary, invalidationLag: { samples: 50, p50: 1.2, p99: 4.5, max: 7 } }]))
  t.match(markdown, /Invalidation lag across instances .* 50 writes: p50 1\.20 ms, p99 4\.50 ms, max 7\.00 ms\./)
  t.match(markdown, /\| tiered×2 \| events-list \|.*\| 1\.50× \[1\.50–1\.50\] \|/)
})

t.test('process scaling (wrk): checked against its threshold when measured, skipped without wrk, and reported', async (t) => {
  const thresholds: Thresholds = { ratios: [], mix: [], processScaling: [{ metric: 'ratio', min: 1.5 }, { metric: 'perBusyCpu', min: 0.8 }] }
  const measured = (ratio: number): DatasetResult => ({
    ...dataset(),
    processScaling: { generator: 'wrk', connections: 32, path: '/events?limit=100', one: { median: 5000, min: 4900, max: 5100 }, two: { median: 5000 * ratio, min: 0, max: 0 }, ratio: { median: ratio, min: ratio - 0.1, max: ratio + 0.1 }, cpuMicrosPerRequest: { one: 190, two: 170 }, machineBusy: { one: 0.6, two: 0.98 }, perBusyCpu: { median: 1.1, min: 1, max: 1.2 }, errors: 0 }
  })
  t.same(checkThresholds(results([measured(1.8)]), thresholds).map((outcome) => outcome.status), ['ok', 'ok'])
  const short = checkThresholds(results([measured(1.2)]), thresholds)
  t.same(short.map((outcome) => [outcome.name, outcome.measured, outcome.status]), [['processScaling/ratio (wrk)', 1.2, 'failed'], ['processScaling/perBusyCpu (wrk)', 1.1, 'ok']])
  t.same(checkThresholds(results(), thresholds).map((outcome) => outcome.status), ['skipped', 'skipped'], 'not measured (no wrk): skipped, not failed')
  t.match(renderMarkdown(results([measured(1.8)])), /Two processes against one .* wrk with 32 connections.*: one 5000 req\/s, two 9000 req\/s, 1\.80× \[1\.70–1\.90\] .*machine CPU busy 60% → 98%, throughput per busy CPU 1\.10× one process's/)
  t.notMatch(renderMarkdown(results()), /Two processes against one/)
})
