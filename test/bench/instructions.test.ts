import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { parseBenchArgs, USAGE } from '../../bench/args.ts'
import { threadTotals } from '../../bench/instructions/callgrind.ts'
import type { Thresholds } from '../../bench/gate.ts'
import { checkThresholds, formatCheck } from '../../bench/report/check.ts'
import { instructionMetric, summariseInstructions, type InstructionCount } from '../../bench/instructions/results.ts'
import {
  BURST, COUNTED_ENDPOINTS, DATASET, HITS, LOADED_HITS, MISSES, SETTLE_MS, UNCACHED
} from '../../bench/instructions/workload.ts'
import { burstClient, describeTally } from '../../bench/instructions/requests.ts'
import { instructionTable } from '../../bench/report/instruction-table.ts'
import { CEILING, HEADER_CEILING, MODE, REDIS_PEER } from '../../bench/scenarios.ts'
import { results } from './fixtures.ts'

const count = (mode: string, endpoint: string, kind: InstructionCount['kind'], perRequest: number) => {
  return { mode, endpoint, kind, requests: 100, windows: [perRequest * 100], perRequest }
}

const COUNTS: InstructionCount[] = [
  count(MODE.offJoin, 'events-list', 'uncached', 4_000_000),
  count(MODE.memory, 'events-list', 'hit', 160_000),
  count(MODE.memory, 'events-list', 'loaded', 120_000),
  count(MODE.memory, 'events-list', 'miss', 4_400_000),
  count(MODE.redis, 'events-list', 'hit', 300_000),
  count(CEILING, 'events-list', 'hit', 64_000),
  count(CEILING, 'events-list', 'loaded', 40_000)
]

t.test('the summary: per mode and endpoint, hit ÷ ceiling, loaded ÷ ceiling and miss ÷ uncached', async (t) => {
  const summary = summariseInstructions(COUNTS)
  t.same(summary.map((row) => row.mode), [MODE.offJoin, MODE.memory, MODE.redis], 'the ceiling is a column, not a row')
  const memory = summary.find((row) => row.mode === MODE.memory)!
  t.same(memory, {
    mode: MODE.memory,
    endpoint: 'events-list',
    encoding: 'identity',
    hit: 160_000,
    loaded: 120_000,
    miss: 4_400_000,
    uncached: 4_000_000,
    ceiling: 64_000,
    loadedCeiling: 40_000,
    hitPerCeiling: 2.5,
    loadedPerCeiling: 3,
    missPerUncached: 1.1
  })
  const redis = summary.find((row) => row.mode === MODE.redis)!
  t.same([redis.missPerUncached, redis.loadedPerCeiling], [undefined, undefined], 'not counted: no ratio')
  const memoryLine = '| memory | events-list | identity | 160.0k | 4.40M | 4.00M | 64.0k | 2.50× | ' +
    '120.0k | 40.0k | 3.00× | 1.10× | – | – | – | – | – | – | – | – |'
  t.ok(instructionTable(summary).includes(memoryLine), 'the memory row, loaded columns next')
})

t.test('a coding\'s hits are counted against the ceiling sending the same representation', async (t) => {
  const br = (entry: InstructionCount): InstructionCount => ({ ...entry, encoding: 'br' })
  const summary = summariseInstructions([
    ...COUNTS,
    br(count(MODE.memory, 'events-list', 'hit', 90_000)),
    br(count(CEILING, 'events-list', 'hit', 60_000))
  ])
  const memoryBr = summary.find((row) => row.mode === MODE.memory && row.encoding === 'br')!
  t.same([memoryBr.hit, memoryBr.ceiling, memoryBr.hitPerCeiling, memoryBr.miss], [90_000, 60_000, 1.5, undefined])
  t.equal(summary.find((row) => row.mode === MODE.memory && row.encoding === 'identity')!.hitPerCeiling, 2.5)
  t.ok(instructionTable(summary).some((line) => line.startsWith('| memory | events-list | br | 90.0k |')))
})

t.test('hits over the header ceiling and the Redis peer, and the mean window over the cheapest', async (t) => {
  const windows = (entry: InstructionCount, ...perRequest: number[]): InstructionCount => {
    const counted = perRequest.map((value) => value * entry.requests)
    const meanPerRequest = perRequest.reduce((sum, value) => sum + value, 0) / perRequest.length
    return { ...entry, windows: counted, perRequest: Math.min(...perRequest), meanPerRequest }
  }
  const summary = summariseInstructions([
    ...COUNTS.filter((entry) => entry.mode !== MODE.memory || entry.kind === 'miss'),
    windows(count(MODE.memory, 'events-list', 'hit', 0), 160_000, 160_000, 176_000, 160_000),
    windows(count(MODE.memory, 'events-list', 'loaded', 0), 120_000, 120_000),
    count(HEADER_CEILING, 'events-list', 'hit', 80_000),
    count(HEADER_CEILING, 'events-list', 'loaded', 60_000),
    count(REDIS_PEER, 'events-list', 'hit', 200_000),
    count(REDIS_PEER, 'events-list', 'loaded', 100_000)
  ])
  t.same(summary.map((row) => row.mode), [MODE.offJoin, MODE.memory, MODE.redis], 'references are columns, not rows')
  const memory = summary.find((row) => row.mode === MODE.memory)!
  t.match(memory, {
    headerCeiling: 80_000,
    loadedHeaderCeiling: 60_000,
    hitPerHeaderCeiling: 2,
    loadedPerHeaderCeiling: 2,
    redisPeer: 200_000,
    loadedRedisPeer: 100_000,
    hitPerRedisPeer: 0.8,
    loadedPerRedisPeer: 1.2,
    hitMeanPerCheapest: 1.025,
    loadedMeanPerCheapest: 1
  }, 'one window of four 10% dearer: the mean 2.5% over the cheapest')
  t.match(memory, { hitPerCeiling: 2.5, loadedPerCeiling: 3 }, 'the bare ceiling beside them')
  const row = { mode: MODE.memory, endpoint: 'events-list' }
  t.equal(instructionMetric(summary, row, 'hitPerHeaderCeiling'), 2, 'a metric thresholds can gate')
  t.equal(instructionMetric(summary, row, 'loadedPerRedisPeer'), 1.2)
  t.equal(instructionMetric(summary, row, 'hitMeanPerCheapest'), 1.025)
  const redis = summary.find((row) => row.mode === MODE.redis)!
  t.same([redis.hitPerRedisPeer, redis.hitMeanPerCheapest], [1.5, undefined], 'no mean in the count: no ratio')
  t.ok(instructionTable(summary).includes('| memory | events-list | identity | 160.0k | 4.40M | 4.00M | 64.0k | ' +
    '2.50× | 120.0k | 40.0k | 3.00× | 1.10× | 80.0k | 2.00× | 2.00× | 200.0k | 0.80× | 1.20× | 1.025× | 1.000× |'))
})

t.test('the gate on instructions: ok, failed naming the row, skipped when not counted', async (t) => {
  const thresholds: Thresholds = {
    ratios: [{ mode: MODE.memory, endpoint: 'events-list', metric: 'speedup', min: 5 }],
    mix: [],
    instructions: [
      { mode: MODE.memory, endpoint: 'events-list', metric: 'hitPerCeiling', max: 2.6 },
      { mode: MODE.redis, endpoint: 'events-list', metric: 'hitPerCeiling', max: 4.5 },
      { mode: MODE.tiered, endpoint: 'events-list', metric: 'hitPerCeiling', max: 2.7 }
    ]
  }
  const sizes = { hits: HITS, loadedHits: LOADED_HITS, burst: BURST, misses: MISSES, uncached: UNCACHED }
  const protocol = { dataset: DATASET, ...sizes, settleMs: SETTLE_MS, nodeFlags: [] }
  const instructions = { protocol, counts: COUNTS, summary: summariseInstructions(COUNTS) }
  const counted = { ...results(), instructions }
  const outcomes = checkThresholds(counted, thresholds)
  t.same(outcomes.map((outcome) => [outcome.name, outcome.status, outcome.reason]), [
    ['memory/events-list/speedup', 'ok', undefined],
    ['instructions/memory/events-list/hitPerCeiling', 'ok', undefined],
    ['instructions/redis/events-list/hitPerCeiling', 'failed', undefined],
    ['instructions/tiered/events-list/hitPerCeiling', 'skipped', 'tiered was not counted']
  ])
  t.match(formatCheck(outcomes),
    /FAILED {2}instructions\/redis\/events-list\/hitPerCeiling: 4\.69 \(threshold ≤ 4\.5\)/)

  const notCounted = checkThresholds(results(), thresholds)
  t.same(notCounted.slice(1).map((outcome) => [outcome.status, outcome.reason]),
    Array(3).fill(['skipped', 'instructions were not counted']), 'no valgrind: skipped, counted by the closing line')

  const onlyCounted = checkThresholds({ ...counted, datasets: [] }, thresholds)
  t.same([onlyCounted[0]!.status, onlyCounted[0]!.reason], ['skipped', 'the throughput rounds were not run'],
    '--instructions-only: the throughput thresholds are not measured')
})

t.test('--instructions-only and --no-instructions', async (t) => {
  t.equal(parseBenchArgs([]).instructions, 'also')
  t.equal(parseBenchArgs(['--instructions-only', '--check']).instructions, 'only')
  t.equal(parseBenchArgs(['--no-instructions']).instructions, 'skip')
  t.throws(() => parseBenchArgs(['--instructions-only', '--no-instructions']),
    { name: 'UsageError', message: /contradict/ })
  t.match(USAGE, /--instructions-only +only count instructions per request/)
})

t.test('callgrind_control -e: every thread\'s total, summed; nothing to read is an error', async (t) => {
  const stdout = 'PID 4242: node dist/src/server.js\nsending command status internal to pid 4242\n\n' +
    '  Totals:        Ir \n   Th 1  50,174,255 \n   Th 2       1,000 \n'
  t.equal(threadTotals(stdout), 50_175_255)
  t.throws(() => threadTotals('PID 4242: node\n'), { message: /no thread totals/ })
})

t.test('the workload: every miss is a whole page of the count\'s dataset, never a path asked before', async (t) => {
  const misses = MISSES.warm + (MISSES.windows + 1) * MISSES.window
  t.ok(misses + 100 <= DATASET.events, 'events-list offsets stay within whole pages')
  for (const endpoint of COUNTED_ENDPOINTS) {
    const paths = Array.from({ length: misses }, (_, i) => endpoint.missPath(i + 1))
    t.equal(new Set([endpoint.hitPath, ...paths]).size, misses + 1, `${endpoint.name}: every path is new`)
  }
})

t.test('bursts: each on the same BURST connections, written while the server is held', async (t) => {
  const connections = new Set<number>()
  let requests = 0
  const server = createServer((request, response) => {
    connections.add(request.socket.remotePort!)
    requests++
    response.setHeader('x-cache', request.url === '/miss' ? 'MISS' : 'HIT')
    response.end('{}')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const { port } = server.address() as AddressInfo
  const bursts = burstClient(`http://127.0.0.1:${port}`, 4)
  t.teardown(bursts.close)
  const holds: string[] = []
  const hold = {
    pause: () => { holds.push('pause') },
    resume: () => { holds.push('resume') }
  }

  const first = await bursts.send(Array(8).fill('/hit'), hold)
  t.equal(describeTally(first), '8 × 200; X-Cache 8 × HIT')
  t.same(holds, ['pause', 'resume', 'pause', 'resume'], 'one hold per burst of 4')
  t.equal(connections.size, 4, 'one connection per request of a burst')
  const second = await bursts.send([...Array(3).fill('/hit'), '/miss'], hold)
  t.equal(describeTally(second), '4 × 200; X-Cache 3 × HIT, 1 × MISS')
  t.equal(connections.size, 4, 'a later burst opens no connection')
  t.equal(requests, 12)
  t.ok(BURST > 1 && LOADED_HITS.window % BURST === 0, 'a loaded window is whole bursts')
})
