import { readFile } from 'node:fs/promises'
import t from 'tap'
import type { Thresholds } from '../../bench/gate.ts'
import { checkThresholds, formatCheck } from '../../bench/report/check.ts'
import { COUNTED_ENDPOINTS } from '../../bench/instructions/workload.ts'
import { rowName } from '../../bench/results.ts'
import { DEFAULT_ENCODINGS, MODE, MODE_NAMES } from '../../bench/scenarios.ts'
import { dataset, processScaling, results } from './fixtures.ts'

t.test('--check: passes, fails naming the ratio and its value, skips modes not measured', async (t) => {
  const thresholds: Thresholds = {
    ratios: [
      { mode: MODE.memory, endpoint: 'events-list', metric: 'speedup', min: 5 },
      { mode: MODE.memory, endpoint: 'events-list', metric: 'ceilingCpuShare', min: 0.9 },
      { mode: MODE.redis, endpoint: 'events-list', metric: 'speedup', min: 2 },
      { mode: MODE.memory, endpoint: 'guests-list', metric: 'speedup', min: 2 },
      { mode: MODE.memory, endpoint: 'event-detail', metric: 'speedup', max: 2 },
      { mode: MODE.offNaive, endpoint: 'events-list', metric: 'speedup', max: 0.7 }
    ],
    mix: [{ mode: MODE.memory, metric: 'staleReads', max: 0 }, { mode: MODE.memory, metric: 'hitRatio', min: 0.95 }]
  }
  const outcomes = checkThresholds(results(), thresholds)
  t.same(outcomes.map((outcome) => [outcome.name, outcome.status]), [
    ['memory/events-list/speedup', 'ok'],
    ['memory/events-list/ceilingCpuShare', 'failed'],
    ['redis/events-list/speedup', 'skipped'],
    ['memory/guests-list/speedup', 'failed'],
    ['memory/event-detail/speedup', 'failed'],
    ['off+naive/events-list/speedup', 'skipped'],
    ['mix/memory/staleReads', 'ok'],
    ['mix/memory/hitRatio', 'failed']
  ])
  const text = formatCheck(outcomes)
  t.match(text, /FAILED {2}memory\/events-list\/ceilingCpuShare: 0\.80 \(threshold ≥ 0\.9\)/)
  t.match(text, /FAILED {2}memory\/event-detail\/speedup: 3\.00 \(threshold ≤ 2\)/)
  t.match(text, /skipped redis\/events-list\/speedup: not measured, redis was not run \(threshold ≥ 2\)/)
  t.match(text, /FAILED {2}memory\/guests-list\/speedup: not measured \(threshold ≥ 2\)/)
  t.match(text, /bench check failed: 4 ratio\(s\) past their threshold$/)
  t.match(formatCheck(outcomes.filter((outcome) => outcome.status === 'ok')), /bench check passed$/)
  t.match(formatCheck(outcomes.filter((outcome) => outcome.status !== 'failed')),
    /bench check passed; 2 threshold\(s\) not measured$/)
})

t.test('--check: a row in a coding is named with it, and skipped when the coding was not measured', async (t) => {
  const br = { mode: MODE.memory, endpoint: 'events-list', encoding: 'br' as const, metric: 'speedup' as const, min: 5 }
  const [outcome] = checkThresholds(results(), { ratios: [br], mix: [] })
  t.same([outcome!.name, outcome!.status, outcome!.reason],
    ['memory/events-list/br/speedup', 'skipped', 'br was not among --encodings'])
  const run = results()
  const measured = run.datasets[0]!
  measured.summary = [...measured.summary, ...measured.summary.map((row) => ({ ...row, encoding: 'br' as const }))]
  t.equal(checkThresholds(run, { ratios: [br], mix: [] })[0]!.status, 'ok', 'measured in br: judged')
})

t.test('--check: a mode or endpoint that ran but lacks the figure fails', async (t) => {
  const run = results()
  const measured = run.datasets[0]!
  measured.summary = measured.summary.filter((row) => !(row.mode === MODE.memory && row.endpoint === 'events-list'))
  const threshold = { mode: MODE.memory, endpoint: 'events-list', metric: 'speedup' as const, min: 5 }
  const [outcome] = checkThresholds(run, { ratios: [threshold], mix: [] })
  t.same([outcome!.status, outcome!.measured], ['failed', undefined])
  t.match(formatCheck([outcome!]), /FAILED {2}memory\/events-list\/speedup: not measured \(threshold ≥ 5\)/)
  const noResults = checkThresholds({ ...results(), datasets: [] }, { ratios: [], mix: [] })
  t.same(noResults.map((outcome) => outcome.status), ['failed'], 'a run that measured nothing fails')
})

t.test('--check: a mode that ran without a mix entry fails; one not run is skipped', async (t) => {
  const thresholds: Thresholds = {
    ratios: [],
    mix: [{ mode: MODE.memory, metric: 'staleReads', max: 0 }, { mode: MODE.tiered, metric: 'staleReads', max: 0 }]
  }
  const run = results()
  run.datasets[0]!.mix = run.datasets[0]!.mix.filter((mix) => mix.mode !== MODE.memory)
  t.same(checkThresholds(run, thresholds).map((outcome) => [outcome.status, outcome.reason]), [
    ['failed', undefined],
    ['skipped', 'tiered was not run']
  ])
})

t.test('process scaling (wrk): checked against its threshold when measured, skipped without wrk', async (t) => {
  const thresholds: Thresholds = {
    ratios: [],
    mix: [],
    processScaling: [{ metric: 'ratio', min: 1.5 }, { metric: 'perBusyCpu', min: 0.8 }]
  }
  const measured = (ratio: number) => results([{ ...dataset(), processScaling: processScaling(ratio) }])
  t.same(checkThresholds(measured(1.8), thresholds).map((outcome) => outcome.status), ['ok', 'ok'])
  const short = checkThresholds(measured(1.2), thresholds)
  t.same(short.map((outcome) => [outcome.name, outcome.measured, outcome.status]), [
    ['processScaling/ratio (wrk)', 1.2, 'failed'],
    ['processScaling/perBusyCpu (wrk)', 1.1, 'ok']
  ])
  t.same(checkThresholds(results(), thresholds).map((outcome) => outcome.status), ['skipped', 'skipped'],
    'not measured (no wrk): skipped, not failed')
})

t.test('bench/thresholds.json names only known modes, in ASCII', async (t) => {
  const file = new URL('../../bench/thresholds.json', import.meta.url)
  const thresholds = JSON.parse(await readFile(file, 'utf8')) as Thresholds
  const modes = [...thresholds.ratios, ...thresholds.mix, ...thresholds.instructions ?? []]
    .map((threshold) => threshold.mode)
  t.same(modes.filter((mode) => !(MODE_NAMES as readonly string[]).includes(mode)), [])
  t.ok(modes.includes(MODE.tieredPair))
  t.same(thresholds.mix.filter((threshold) => threshold.metric === 'hitRatio'), [],
    'the timed mix\'s hit ratio depends on timing, so it is reported, not gated')
  const gated = new Set(thresholds.instructions?.map((threshold) => `${rowName(threshold)}/${threshold.metric}`))
  for (const mode of [MODE.memory, MODE.redis, MODE.tiered]) {
    for (const { name } of COUNTED_ENDPOINTS) {
      for (const encoding of DEFAULT_ENCODINGS) {
        for (const metric of ['hitPerCeiling', 'loadedPerCeiling']) {
          const row = `${rowName({ mode, endpoint: name, encoding })}/${metric}`
          t.ok(gated.has(row), `${row} is gated`)
        }
      }
    }
  }
  const peer = thresholds.ratios.find((threshold) => threshold.mode === MODE.compressingPeer)
  t.same(peer && [peer.encoding, peer.metric], ['br', 'cpuOverPrecompressed'], 'the peer is gated on br hits')
})
