import autocannon from 'autocannon'
import type { ServerProcess } from './processes.ts'

export interface LoadOptions {
  durationSeconds: number
  connections: number
  /** Paths to request in turn; a function picks one per request (random ids). */
  path: string | (() => string)
}

export interface LoadResult {
  requests: number
  requestsPerSecond: number
  latencyMs: { p50: number, p90: number, p99: number, max: number }
  errors: number
  non2xx: number
  bytesPerResponse: number
  /** Server CPU per request served, in microseconds: barely moves when a neighbour steals the machine. */
  cpuMicrosPerRequest: number
  /** Sums of response headers the app reports, for hit ratio and queries per request. */
  cacheHits: number
  dbQueries: number
}

/** Drives `server` with autocannon for the duration, measuring its CPU over the same window. */
export async function runLoad (server: ServerProcess, options: LoadOptions): Promise<LoadResult> {
  let cacheHits = 0
  let dbQueries = 0
  const pick = typeof options.path === 'function' ? options.path : () => options.path as string
  const cpuBefore = await server.cpuMicros()
  const result = await autocannon({
    url: server.url,
    connections: options.connections,
    duration: options.durationSeconds,
    requests: [{
      setupRequest: (request) => ({ ...request, path: pick() }),
      onResponse: (_status, _body, _context, headers) => {
        if (headers?.['x-cache'] === 'HIT') cacheHits++
        dbQueries += Number(headers?.['x-db-queries'] ?? 0)
      }
    }]
  })
  const cpuAfter = await server.cpuMicros()
  const requests = result.requests.total
  return {
    requests,
    requestsPerSecond: requests / options.durationSeconds,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    bytesPerResponse: requests > 0 ? result.throughput.total / requests : 0,
    cpuMicrosPerRequest: requests > 0 ? (cpuAfter - cpuBefore) / requests : 0,
    cacheHits,
    dbQueries
  }
}
