import t from 'tap'
import { ratioOf, summarise, type Row } from '../../bench/results.ts'
import { planRows, roundOrder } from '../../bench/steps/rounds.ts'
import { CEILING, ENDPOINTS, HEADER_CEILING, MODE, MODES, REDIS_PEER } from '../../bench/scenarios.ts'
import { median, pairedRatio, spread } from '../../bench/stats.ts'
import { load, rows } from './fixtures.ts'

t.test('ratio maths: medians of ratios paired within rounds', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2, 'the lower middle: a value that was measured')
  t.ok(Number.isNaN(median([])))
  t.same(spread([2, 8, 4]), { median: 4, min: 2, max: 8 })
  t.same(pairedRatio([10, 5, 10], [1, 0.5, 1]), { median: 10, min: 10, max: 10 },
    'a machine slowing down in round 2 does not move the ratio')
  t.same(pairedRatio([10, 20], [0, 2]), { median: 10, min: 10, max: 10 }, 'a zero denominator is left out')

  const summary = summarise(rows())
  const memory = summary.find((row) => row.mode === MODE.memory && row.endpoint === 'events-list')!
  t.same(memory.speedup, { median: 9, min: 9, max: 9 })
  t.same(memory.ceilingShare, { median: 0.9, min: 0.9, max: 0.9 })
  t.same(memory.ceilingCpuShare, { median: 0.8, min: 0.8, max: 0.8 })
  t.equal(memory.hitRatio, 1)
  t.equal(memory.queriesPerRequest, 0)
  t.equal(memory.requestsPerSecond.median, 9000)
  const detail = summary.find((row) => row.mode === MODE.memory && row.endpoint === 'event-detail')!
  t.equal(detail.ceilingShare, undefined, 'the ceiling only serves the events list')
  t.equal(summary.find((row) => row.mode === CEILING)!.speedup, undefined)
})

t.test('a multi-instance row is compared with its one-instance mode, round by round', async (t) => {
  const scaled: Row[] = [
    ...rows(),
    { mode: MODE.tiered, endpoint: 'events-list', rounds: [load(6000, 60), load(3000, 120), load(6000, 60)] },
    { mode: MODE.tieredPair, endpoint: 'events-list', rounds: [load(9000, 70), load(4500, 140), load(9000, 70)] }
  ]
  const summary = summarise(scaled, MODES)
  t.equal(summary.find((row) => row.mode === MODE.tieredPair)!.scaling!.median, 1.5,
    '1.5× in every round, whatever the machine did')
  t.equal(summary.find((row) => row.mode === MODE.tiered)!.scaling, undefined)
})

t.test('the matrix: every mode per endpoint and coding, the ceiling on its endpoint, rotated by round', async (t) => {
  const modes = MODES.filter((mode) => mode.name === MODE.offJoin || mode.name === MODE.memory)
  const plan = planRows(modes, ENDPOINTS.slice(0, 2), ['identity'], [CEILING])
  t.same(plan.map(({ mode, endpoint }) => `${mode}/${endpoint.name}`), [
    'off+join/events-list', 'memory/events-list', 'ceiling/events-list', 'off+join/event-detail', 'memory/event-detail'
  ])
  const encoded = planRows(modes, ENDPOINTS.slice(0, 1), ['identity', 'br'], [CEILING, HEADER_CEILING])
  t.same(encoded.map(({ mode, endpoint, encoding }) => `${mode}/${endpoint.name}/${encoding}`), [
    'off+join/events-list/identity', 'memory/events-list/identity', 'ceiling/events-list/identity',
    'ceiling+headers/events-list/identity',
    'off+join/events-list/br', 'memory/events-list/br', 'ceiling/events-list/br', 'ceiling+headers/events-list/br'
  ])
  t.same(roundOrder(5, 0), [0, 1, 2, 3, 4])
  t.same(roundOrder(5, 1), [1, 2, 3, 4, 0], 'no row always runs first')
  t.same(roundOrder(5, 7), [2, 3, 4, 0, 1])
})

t.test('each coding is compared with its own baseline and ceiling; the peer with memory mode', async (t) => {
  const br = (row: Row): Row => ({ ...row, encoding: 'br' })
  const encoded: Row[] = [
    ...rows(),
    br({ mode: MODE.offJoin, endpoint: 'events-list', rounds: [load(500, 1800), load(250, 3600), load(500, 1800)] }),
    br({ mode: MODE.memory, endpoint: 'events-list', rounds: [load(9000, 40), load(4500, 80), load(9000, 40)] }),
    br({ mode: CEILING, endpoint: 'events-list', rounds: [load(12_000, 20), load(6000, 40), load(12_000, 20)] }),
    br({
      mode: MODE.compressingPeer,
      endpoint: 'events-list',
      rounds: [load(1000, 800), load(500, 1600), load(1000, 800)]
    })
  ]
  const summary = summarise(encoded, MODES)
  const find = (mode: string, encoding: string) => summary.find((row) => {
    return row.mode === mode && row.endpoint === 'events-list' && row.encoding === encoding
  })!
  t.equal(find(MODE.memory, 'identity').ceilingCpuShare!.median, 0.8, 'identity: 40 µs over 50')
  t.equal(find(MODE.memory, 'br').ceilingCpuShare!.median, 0.5, 'br: against the br ceiling, 20 µs over 40')
  t.equal(find(MODE.memory, 'br').speedup!.median, 18, 'br: over off+join in br')
  t.equal(find(MODE.compressingPeer, 'br').cpuOverPrecompressed!.median, 20, 'the peer: 800 µs over memory\'s 40')
  t.equal(find(MODE.memory, 'br').cpuOverPrecompressed, undefined)
  t.equal(ratioOf(summary, { mode: MODE.memory, endpoint: 'events-list', encoding: 'br' }, 'ceilingCpuShare'), 0.5)
  t.equal(ratioOf(summary, { mode: MODE.memory, endpoint: 'events-list' }, 'ceilingCpuShare'), 0.8)
})

t.test('the header ceiling\'s and the Redis peer\'s CPU per request over a row\'s, round by round', async (t) => {
  const references: Row[] = [
    ...rows(),
    { mode: HEADER_CEILING, endpoint: 'events-list', rounds: [load(9500, 45), load(4750, 90), load(9500, 45)] },
    { mode: REDIS_PEER, endpoint: 'events-list', rounds: [load(6000, 75), load(3000, 150), load(6000, 75)] }
  ]
  const summary = summarise(references, MODES)
  const memory = summary.find((row) => row.mode === MODE.memory && row.endpoint === 'events-list')!
  t.same(memory.headerCeilingCpuShare, { median: 0.9, min: 0.9, max: 0.9 }, '45 µs over 50 in every round')
  t.same(memory.redisPeerCpuShare, { median: 1.5, min: 1.5, max: 1.5 }, 'a hit cheaper than the peer: above 1')
  t.equal(ratioOf(summary, { mode: MODE.memory, endpoint: 'events-list' }, 'headerCeilingCpuShare'), 0.9)
  t.equal(ratioOf(summary, { mode: MODE.memory, endpoint: 'events-list' }, 'redisPeerCpuShare'), 1.5)
  const detail = summary.find((row) => row.mode === MODE.memory && row.endpoint === 'event-detail')!
  t.same([detail.headerCeilingCpuShare, detail.redisPeerCpuShare], [undefined, undefined], 'events list only')
  for (const mode of [HEADER_CEILING, REDIS_PEER]) {
    t.equal(summary.find((row) => row.mode === mode)!.speedup, undefined, `${mode}: a reference, no speed-up`)
  }
  t.equal(ratioOf(summary, { mode: MODE.memory, endpoint: 'event-detail' }, 'redisPeerCpuShare'), undefined)
})
