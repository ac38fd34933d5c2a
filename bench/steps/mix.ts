import autocannon from 'autocannon'
import type { ServerProcess } from '../harness/processes.ts'
import { percentiles } from '../stats.ts'

export interface MixResult {
  requests: number
  requestsPerSecond: number
  reads: number
  writes: number
  hitRatio: number
  readLatencyMs: { p50: number, p99: number }
  writeLatencyMs: { p50: number, p99: number }
  errors: number
  non2xx: number
  /** Reads that returned an event older than a write acknowledged before the read was sent. Must be 0. */
  staleReads: number
}

interface Context {
  pending?: { kind: 'read' | 'write', eventId: number, version: number, sentAt: number }
}

/**
 * A read/write mix on a small hot set of events: mostly GET /events/:id, some PATCHes that set
 * the name to a new version `vN`. An event never has two writes in flight, so its versions commit
 * in the order they are acknowledged; a read sent after a write was acknowledged must show that
 * version or a later one, otherwise it is a stale read.
 */
export interface MixOptions {
  durationSeconds: number
  connections: number
  /** Events 1..hotEvents are read and written. */
  hotEvents: number
  /** Share of requests that are writes. */
  writeShare: number
}

export async function runMix (server: ServerProcess, options: MixOptions): Promise<MixResult> {
  const acknowledged = new Map<number, number>()
  const writing = new Set<number>()
  let nextVersion = 1
  let reads = 0
  let writes = 0
  let hits = 0
  let staleReads = 0
  const readTimes: number[] = []
  const writeTimes: number[] = []
  const result = await autocannon({
    url: server.url,
    connections: options.connections,
    duration: options.durationSeconds,
    requests: [{
      setupRequest: (request, context: Context) => {
        const now = performance.now()
        const eventId = 1 + Math.floor(Math.random() * options.hotEvents)
        if (Math.random() < options.writeShare && !writing.has(eventId)) {
          const version = nextVersion++
          writing.add(eventId)
          context.pending = { kind: 'write', eventId, version, sentAt: now }
          return {
            ...request,
            method: 'PATCH',
            path: `/events/${eventId}`,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: `v${version}` })
          }
        }
        context.pending = { kind: 'read', eventId, version: acknowledged.get(eventId) ?? 0, sentAt: now }
        return { ...request, method: 'GET', path: `/events/${eventId}`, body: undefined }
      },
      onResponse: (status, body, context: Context, headers) => {
        const pending = context.pending
        if (!pending) return
        if (pending.kind === 'write') writing.delete(pending.eventId)
        if (status !== 200) return
        const elapsed = performance.now() - pending.sentAt
        if (pending.kind === 'write') {
          writes++
          writeTimes.push(elapsed)
          acknowledged.set(pending.eventId, Math.max(acknowledged.get(pending.eventId) ?? 0, pending.version))
          return
        }
        reads++
        readTimes.push(elapsed)
        if (headers?.['x-cache'] === 'HIT') hits++
        const seen = /"name":"v(\d+)"/.exec(body)
        const version = seen ? Number(seen[1]) : 0
        if (version < pending.version) staleReads++
      }
    }]
  })

  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / options.durationSeconds,
    reads,
    writes,
    hitRatio: reads > 0 ? hits / reads : 0,
    readLatencyMs: p50p99(readTimes),
    writeLatencyMs: p50p99(writeTimes),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    staleReads
  }
}

function p50p99 (values: readonly number[]): { p50: number, p99: number } {
  const { p50, p99 } = percentiles(values)
  return { p50, p99 }
}
