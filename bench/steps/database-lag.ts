import pg from 'pg'
import type { LagResult } from './lag.ts'
import type { ServerProcess } from '../harness/processes.ts'
import { percentiles } from '../stats.ts'

const GIVE_UP_MS = 5_000

/**
 * The lag of a write made outside the API (CACHE_DB_INVALIDATION), as a client sees it: every
 * instance holds an event; an UPDATE is committed on a connection of its own, as psql would; how
 * long until every instance answers with the new state? Each is polled back to back, so a sample
 * also contains up to one request's round trip; one that never converges within 5 s fails the run.
 */
export async function measureDatabaseLag (
  instances: readonly ServerProcess[],
  databaseUrl: string,
  options: { samples: number, hotEvents: number }
): Promise<LagResult> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-sql-writer' })
  await client.connect()
  try {
    const lags: number[] = []
    for (let i = 0; i < options.samples; i++) {
      const id = 1 + (i % options.hotEvents)
      // Twice: the first may load, the second is then a hit (an L1 hit in tiered mode).
      for (const instance of instances) {
        for (let read = 0; read < 2; read++) await (await fetch(`${instance.url}/events/${id}`)).arrayBuffer()
      }
      const name = `sql-lag-${process.pid}-${i}`
      await client.query('UPDATE events SET name = $2 WHERE id = $1', [id, name])
      const committedAt = performance.now()
      await Promise.all(instances.map((instance) => servesName(`${instance.url}/events/${id}`, name, committedAt)))
      lags.push(performance.now() - committedAt)
    }
    return { samples: lags.length, ...percentiles(lags) }
  } finally {
    await client.end()
  }
}

async function servesName (url: string, name: string, since: number): Promise<void> {
  while ((await (await fetch(url)).json() as { name: string }).name !== name) {
    if (performance.now() - since > GIVE_UP_MS) {
      throw new Error(`${url} still served the old name ${GIVE_UP_MS} ms after the COMMIT`)
    }
  }
}
