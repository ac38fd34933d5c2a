import type { ServerProcess } from '../harness/processes.ts'
import { percentiles } from '../stats.ts'

export interface LagResult {
  samples: number
  /** Write acknowledged by one instance → the other serves the new state, in ms. */
  p50: number
  p99: number
  max: number
}

const GIVE_UP_MS = 5_000

/**
 * The stale window of tiered mode across instances, as a client sees it: one instance holds an
 * event in its L1; a write through the other is acknowledged; how long until the first instance
 * answers with the new state? Polled back to back, so a sample also contains up to one request's
 * round trip; a sample that never converges within 5 s fails the run (a lost invalidation).
 */
export async function measureInvalidationLag (
  [writer, reader]: readonly ServerProcess[],
  options: { samples: number, hotEvents: number }
): Promise<LagResult> {
  if (!writer || !reader) throw new Error('the lag needs two instances')
  const lags: number[] = []
  for (let i = 0; i < options.samples; i++) {
    const id = 1 + (i % options.hotEvents)
    const url = `${reader.url}/events/${id}`
    // Twice: the first may fill from Redis or PostgreSQL, the second is then an L1 hit.
    for (let read = 0; read < 2; read++) await (await fetch(url)).arrayBuffer()
    const name = `lag-${process.pid}-${i}`
    const written = await fetch(`${writer.url}/events/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name })
    })
    if (written.status !== 200) throw new Error(`PATCH /events/${id} answered ${written.status}`)
    await written.arrayBuffer()
    const acknowledgedAt = performance.now()
    while ((await (await fetch(url)).json() as { name: string }).name !== name) {
      if (performance.now() - acknowledgedAt > GIVE_UP_MS) {
        throw new Error(`instance 2 still served the old /events/${id} ${GIVE_UP_MS} ms after the write`)
      }
    }
    lags.push(performance.now() - acknowledgedAt)
  }
  return { samples: lags.length, ...percentiles(lags) }
}
