import { runLoad } from '../harness/load.ts'
import type { ServerProcess } from '../harness/processes.ts'

/** The hot key: the costliest page to load, so that waiting for its load shows. */
export const EXPIRY_PATH = '/events?limit=100'

export interface ExpiryResult {
  mode: string
  refreshAhead: boolean
  ttlSeconds: number
  /** How many times the key's TTL ran out during the load. */
  expiries: number
  requests: number
  /** Reads that were not hits: each waited for a load. */
  misses: number
  latencyMs: { p50: number, p99: number, max: number }
}

/**
 * One hot key under load while its short TTL runs out again and again: how many reads wait for a
 * load each time, and what that does to the tail. With refresh-ahead a hit near the expiry loads
 * it in the background, so no reader should wait; without, every connection reading when the TTL
 * ends waits for the load (one per process, single-flight).
 */
export async function measureExpiry (
  server: ServerProcess,
  options: { durationSeconds: number, connections: number, ttlSeconds: number }
): Promise<Omit<ExpiryResult, 'mode' | 'refreshAhead'>> {
  const { durationSeconds, connections, ttlSeconds } = options
  // Stored before the load starts: the misses counted are the expiries' alone.
  await (await fetch(`${server.url}${EXPIRY_PATH}`)).arrayBuffer()
  const load = await runLoad([server], { durationSeconds, connections, path: EXPIRY_PATH })
  const { p50, p99, max } = load.latencyMs
  return {
    ttlSeconds,
    expiries: Math.floor(durationSeconds / ttlSeconds),
    requests: load.requests,
    misses: load.requests - load.cacheHits,
    latencyMs: { p50, p99, max }
  }
}
