// Made-up measurements for the bench's pure parts: three rounds on a machine that halves its speed
// in round 2, so a ratio that notices is a ratio computed across rounds.
import type { LoadResult } from '../../bench/harness/load.ts'
import type { ProcessScalingResult } from '../../bench/steps/process-scaling.ts'
import { summarise, type BenchResults, type DatasetResult, type Row } from '../../bench/results.ts'
import { CEILING, MODE } from '../../bench/scenarios.ts'

export function load (requestsPerSecond: number, cpuMicrosPerRequest: number, extra: Partial<LoadResult> = {}) {
  const result: LoadResult = {
    requests: requestsPerSecond * 10,
    requestsPerSecond,
    latencyMs: {
      p50: 1000 / requestsPerSecond,
      p90: 2000 / requestsPerSecond,
      p99: 5000 / requestsPerSecond,
      max: 100
    },
    errors: 0,
    non2xx: 0,
    bytesPerResponse: 38_000,
    cpuMicrosPerRequest,
    generatorCpuMicrosPerRequest: 100,
    cacheHits: 0,
    dbQueries: requestsPerSecond * 10,
    ...extra
  }
  return result
}

const hit = (requestsPerSecond: number, cpu: number) => {
  return load(requestsPerSecond, cpu, { cacheHits: requestsPerSecond * 10, dbQueries: 0 })
}

export function rows (): Row[] {
  return [
    { mode: MODE.offJoin, endpoint: 'events-list', rounds: [load(1000, 900), load(500, 1800), load(1000, 900)] },
    { mode: MODE.memory, endpoint: 'events-list', rounds: [hit(9000, 50), hit(4500, 100), hit(9000, 50)] },
    { mode: CEILING, endpoint: 'events-list', rounds: [load(10_000, 40), load(5000, 80), load(10_000, 40)] },
    { mode: MODE.offJoin, endpoint: 'event-detail', rounds: [load(5000, 100), load(5000, 100), load(5000, 100)] },
    { mode: MODE.memory, endpoint: 'event-detail', rounds: [load(15_000, 40), load(15_000, 40), load(15_000, 40)] }
  ]
}

const MIX = {
  requests: 100,
  requestsPerSecond: 10,
  reads: 95,
  writes: 5,
  errors: 0,
  non2xx: 0,
  staleReads: 0
}

export function dataset (events = 1000, mix = true): DatasetResult {
  return {
    events,
    guestsPerEvent: 10,
    eventsListBytes: 38_000,
    rows: rows(),
    summary: summarise(rows()),
    mix: mix
      ? [
          {
            mode: MODE.offJoin,
            ...MIX,
            hitRatio: 0,
            readLatencyMs: { p50: 2, p99: 9 },
            writeLatencyMs: { p50: 3, p99: 9 }
          },
          {
            mode: MODE.memory,
            ...MIX,
            hitRatio: 0.9,
            readLatencyMs: { p50: 1, p99: 4 },
            writeLatencyMs: { p50: 3.5, p99: 9 }
          }
        ]
      : []
  }
}

export function results (datasets: DatasetResult[] = [dataset()]): BenchResults {
  return {
    format: 1,
    startedAt: '2026-11-29T00:00:00.000Z',
    finishedAt: '2026-11-29T00:10:00.000Z',
    command: 'npm run bench -- --quick',
    environment: {
      machine: { cpu: 'Test CPU <&>', cores: 2, memoryGiB: 24, os: 'Linux' },
      node: 'v20',
      versions: { fastify: '5' },
      commit: 'abc123',
      dirty: false
    },
    options: { durationSeconds: 10, connections: 20, rounds: 3, quick: false },
    notes: ['Redis: none'],
    datasets
  }
}

/** A wrk measurement where two processes serve `ratio` times one's requests. */
export function processScaling (ratio: number): ProcessScalingResult {
  return {
    generator: 'wrk',
    connections: 32,
    path: '/events?limit=100',
    one: { median: 5000, min: 4900, max: 5100 },
    two: { median: 5000 * ratio, min: 0, max: 0 },
    ratio: { median: ratio, min: ratio - 0.1, max: ratio + 0.1 },
    cpuMicrosPerRequest: { one: 190, two: 170 },
    machineBusy: { one: 0.6, two: 0.98 },
    perBusyCpu: { median: 1.1, min: 1, max: 1.2 },
    errors: 0
  }
}
