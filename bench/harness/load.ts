import autocannon from 'autocannon'
import { serversCpuMicros, type ServerProcess } from './processes.ts'

export interface LoadOptions {
  durationSeconds: number
  connections: number
  /** Paths to request in turn; a function picks one per request (random ids). */
  path: string | (() => string)
  /** Sent with every request (`accept-encoding`). */
  headers?: Record<string, string>
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
  /** The load generator's own CPU per request (this process: autocannon runs on its main thread). */
  generatorCpuMicrosPerRequest: number
  /** Sums of response headers the app reports, for hit ratio and queries per request. */
  cacheHits: number
  dbQueries: number
}

/**
 * Drives the servers with autocannon for the duration, measuring their CPU over the same window.
 * Several servers (instances of one mode) share the connections evenly, each its own autocannon,
 * as a load balancer would spread them.
 */
export async function runLoad (servers: readonly ServerProcess[], options: LoadOptions): Promise<LoadResult> {
  let cacheHits = 0
  let dbQueries = 0
  const pick = typeof options.path === 'function' ? options.path : () => options.path as string
  const cpuBefore = await serversCpuMicros(servers)
  const generatorBefore = process.cpuUsage()
  const results = await Promise.all(servers.map((server) => autocannon({
    url: server.url,
    connections: Math.ceil(options.connections / servers.length),
    duration: options.durationSeconds,
    requests: [{
      ...(options.headers && { headers: options.headers }),
      setupRequest: (request) => ({ ...request, path: pick() }),
      onResponse: (_status, _body, _context, headers) => {
        if (headers?.['x-cache'] === 'HIT') cacheHits++
        dbQueries += Number(headers?.['x-db-queries'] ?? 0)
      }
    }]
  })))
  const generator = process.cpuUsage(generatorBefore)
  const cpuAfter = await serversCpuMicros(servers)
  const requests = results.reduce((sum, result) => sum + result.requests.total, 0)
  type Figure = (result: autocannon.Result) => number
  const sum = (value: Figure) => results.reduce((total, result) => total + value(result), 0)
  // Percentiles of several runs cannot be merged exactly: each is weighted by its requests (one
  // run: exact), and the max is the max.
  const weighted = (value: Figure) => {
    return requests > 0 ? sum((result) => value(result) * result.requests.total) / requests : 0
  }
  return {
    requests,
    requestsPerSecond: requests / options.durationSeconds,
    latencyMs: {
      p50: weighted((r) => r.latency.p50),
      p90: weighted((r) => r.latency.p90),
      p99: weighted((r) => r.latency.p99),
      max: Math.max(...results.map((r) => r.latency.max))
    },
    errors: sum((result) => result.errors + result.timeouts),
    non2xx: sum((result) => result.non2xx),
    bytesPerResponse: requests > 0 ? sum((result) => result.throughput.total) / requests : 0,
    cpuMicrosPerRequest: requests > 0 ? (cpuAfter - cpuBefore) / requests : 0,
    generatorCpuMicrosPerRequest: requests > 0 ? (generator.user + generator.system) / requests : 0,
    cacheHits,
    dbQueries
  }
}
