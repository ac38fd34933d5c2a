import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { compareRuns, loadResults } from '../../bench/report/compare.ts'
import { summarise, type BenchResults, type Row } from '../../bench/results.ts'
import { HEADER_CEILING, MODE, MODES, REDIS_PEER } from '../../bench/scenarios.ts'
import { dataset, load, processScaling, results, rows } from './fixtures.ts'

const halveMemory = (row: Row): Row => row.mode !== MODE.memory
  ? row
  : { ...row, rounds: row.rounds.map((round) => ({ ...round, requestsPerSecond: round.requestsPerSecond / 2 })) }

t.test('--compare: the change per row between two runs', async (t) => {
  const before = results()
  const after = results([{ ...dataset(), summary: summarise(rows().map(halveMemory)) }])
  const text = compareRuns(before, after)
  t.match(text, /memory\/events-list\s+9000→4500 \(-50%\)/)
  t.match(text, /off\+join\/events-list\s+1000→1000 \(\+0%\)/)
  t.notMatch(text, /process scaling|invalidation lag/, 'no line for what neither run measured')
})

t.test('--compare: process scaling and the lag, and a dirty tree named', async (t) => {
  const before = results([{ ...dataset(), processScaling: processScaling(1.5), invalidationLag: lag(10) }])
  const after = results([{ ...dataset(), processScaling: processScaling(1.8), invalidationLag: lag(12) }])
  after.environment.dirty = true
  const text = compareRuns(before, after)
  t.match(text, /after: 2026-11-29T00:00:00\.000Z \(abc123, dirty\)/)
  t.match(text, /process scaling \(wrk\), two processes over one: 1\.50→1\.80 \(\+20%\)/)
  t.match(text, /invalidation lag p99 ms: 10\.0→12\.0 \(\+20%\)/)
})

t.test('--compare: the instruction ratios to a tenth of a percent, and a protocol that differs named', async (t) => {
  const counted = (hitPerCeiling: number, loadedPerCeiling: number | undefined, settleMs: number) => {
    const row = { mode: MODE.memory, endpoint: 'events-list', hitPerCeiling, loadedPerCeiling }
    const protocol = { settleMs } as NonNullable<BenchResults['instructions']>['protocol']
    return { ...results(), instructions: { protocol, counts: [], summary: [row] } }
  }
  const same = compareRuns(counted(2.6, 2.7, 20_000), counted(2.626, 2.7, 20_000))
  t.match(same, /memory\/events-list\s+2\.60→2\.63 \(\+1\.0%\)\s+2\.70→2\.70 \(\+0\.0%\)/)
  t.notMatch(same, /different protocols/)
  const other = compareRuns(counted(2.6, undefined, 20_000), counted(2.6, 2.7, 10_000))
  t.match(other, /different protocols/)
  t.match(other, /memory\/events-list\s+2\.60→2\.60 \(\+0\.0%\)\s+–/, 'a ratio one run lacks is a dash')
  t.notMatch(compareRuns(results(), results()), /instructions/, 'no table when neither run counted')
})

t.test('--compare: the shares of the header ceiling and the Redis peer, and the ratios over them', async (t) => {
  const withReferences = (cpu: number) => {
    const measured: Row[] = [
      ...rows(),
      { mode: HEADER_CEILING, endpoint: 'events-list', rounds: [load(9000, cpu), load(4500, cpu * 2)] },
      { mode: REDIS_PEER, endpoint: 'events-list', rounds: [load(6000, cpu * 2), load(3000, cpu * 4)] }
    ]
    const row = { mode: MODE.memory, endpoint: 'events-list', hitPerHeaderCeiling: cpu / 20, hitMeanPerCheapest: 1.01 }
    const protocol = { settleMs: 1 } as NonNullable<BenchResults['instructions']>['protocol']
    const instructions = { protocol, counts: [], summary: [row] }
    return { ...results([{ ...dataset(), summary: summarise(measured, MODES) }]), instructions }
  }
  const text = compareRuns(withReferences(40), withReferences(45))
  t.match(text, /header ceiling CPU\s+getBuffer CPU/)
  t.match(text, /memory\/events-list .* 0\.80→0\.80 \(\+0%\)\s+0\.80→0\.90 \(\+12%\)\s+1\.60→1\.80 \(\+12%\)/)
  t.match(text, /hit ÷ header ceiling/)
  t.match(text, /memory\/events-list(\s+–){2}\s+2\.00→2\.25 \(\+12\.5%\)(\s+–){3}\s+1\.01→1\.01 \(\+0\.0%\)/)
})

t.test('--compare reads a result file written before mode names were ASCII', async (t) => {
  const former = 'tiered\u00d72'
  const pairRows: Row[] = [
    { mode: MODE.tiered, endpoint: 'events-list', rounds: [load(6000, 60)] },
    { mode: former, endpoint: 'events-list', rounds: [load(9000, 70)] }
  ]
  const old = results([{ ...dataset(), rows: pairRows, summary: summarise(pairRows, []) }])
  const directory = await mkdtemp(join(tmpdir(), 'bench-compare-'))
  t.teardown(async () => { await import('node:fs/promises').then(({ rm }) => rm(directory, { recursive: true })) })
  const file = join(directory, 'old.json')
  await writeFile(file, JSON.stringify(old))
  const loaded = await loadResults(file)
  t.same(loaded.datasets[0]!.rows.map((row) => row.mode), [MODE.tiered, MODE.tieredPair])
  t.same(loaded.datasets[0]!.summary.map((row) => row.mode), [MODE.tiered, MODE.tieredPair])

  const newRows = pairRows.map((row) => row.mode === former ? { ...row, mode: MODE.tieredPair } : row)
  const now = results([{ ...dataset(), rows: newRows, summary: summarise(newRows, MODES) }])
  t.match(compareRuns(loaded, now), /tiered-x2\/events-list\s+9000→9000 \(\+0%\)/, 'old and new rows line up')
})

function lag (p99: number) {
  return { samples: 50, p50: 1, p99, max: p99 }
}
