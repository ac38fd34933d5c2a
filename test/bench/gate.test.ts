import t from 'tap'
import { gatedRun, loadThresholds, type Thresholds } from '../../bench/gate.ts'
import { planRows } from '../../bench/steps/rounds.ts'
import { BENCH_ENCODINGS, ENDPOINTS, MODES, REFERENCES } from '../../bench/scenarios.ts'

const REFERENCE_NAMES = REFERENCES.map((reference) => reference.name)

t.test('--gated measures each ratio\'s row and the row it divides by, and no other', async (t) => {
  const thresholds: Thresholds = {
    ratios: [
      { mode: 'redis', endpoint: 'guests-list', encoding: 'br', metric: 'speedup', min: 2 },
      { mode: 'memory', endpoint: 'events-list', metric: 'ceilingCpuShare', min: 0.3 },
      { mode: 'tiered-x2', endpoint: 'events-list', metric: 'scaling', min: 0.4 },
      { mode: 'memory+compress', endpoint: 'events-list', encoding: 'br', metric: 'cpuOverPrecompressed', min: 5 },
      { mode: 'tiered', endpoint: 'events-list', encoding: 'br', metric: 'headerCeilingCpuShare', min: 0.3 },
      { mode: 'redis', endpoint: 'events-list', metric: 'redisPeerCpuShare', min: 0.3 }
    ],
    mix: []
  }
  const gated = gatedRun(thresholds)
  const measured = planRows(MODES, ENDPOINTS, BENCH_ENCODINGS, REFERENCE_NAMES)
    .map((row) => ({ mode: row.mode, endpoint: row.endpoint.name, encoding: row.encoding }))
    .filter((row) => gated.measuresRow(row))
    .map((row) => `${row.mode} ${row.endpoint} ${row.encoding}`)
  t.same(measured.toSorted(), [
    'ceiling events-list identity',
    'ceiling+headers events-list br',
    'getBuffer events-list identity',
    'memory events-list br',
    'memory events-list identity',
    'memory+compress events-list br',
    'off+join guests-list br',
    'redis events-list identity',
    'redis guests-list br',
    'tiered events-list br',
    'tiered events-list identity',
    'tiered-x2 events-list identity'
  ])
  t.same(gated.modes, ['off+join', 'memory', 'redis', 'tiered', 'tiered-x2', 'memory+compress'],
    'the modes those rows need, the baseline always, in the order of the matrix')
  t.same(gated.steps, [], 'no step a threshold reads')
})

t.test('--gated runs the mix and the scaling steps where thresholds read them, and the modes they name', async (t) => {
  const gated = gatedRun({
    ratios: [],
    mix: [{ mode: 'memory', metric: 'staleReads', max: 0 }],
    processScaling: [{ metric: 'ratio', min: 1.1 }],
    instructions: [{ mode: 'redis', endpoint: 'events-list', metric: 'hitPerCeiling', max: 4 }]
  })
  t.same(gated.steps, ['mix', 'scaling'])
  t.same(gated.modes, ['off+join', 'memory', 'redis'])
})

t.test('bench/thresholds.json: --gated measures under half the matrix, and every row its ratios read', async (t) => {
  const thresholds = await loadThresholds('bench/thresholds.json')
  const gated = gatedRun(thresholds)
  const all = planRows(MODES, ENDPOINTS, BENCH_ENCODINGS, REFERENCE_NAMES)
  const measured = all.filter((row) => {
    return gated.measuresRow({ mode: row.mode, endpoint: row.endpoint.name, encoding: row.encoding })
  })
  t.ok(measured.length < all.length / 2, `${measured.length} of ${all.length} rows`)
  for (const { metric, ...row } of thresholds.ratios) {
    t.ok(gated.measuresRow(row), `${row.mode}/${row.endpoint}/${row.encoding ?? 'identity'} (${metric})`)
  }
  t.same(gated.steps, ['mix', 'scaling'])
})
