// The consistency checker's runs, shared by the reliability suite's consistency files: clients
// writing and reading at random against one or two instances, every read judged against the
// versions acknowledged before it began (test/support/consistency.ts), and a report of the figures.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { listeningTestApp } from './app.ts'
import { cacheEnv } from './cache-modes.ts'
import {
  firstStale,
  seedEvents,
  shownBy,
  versionLedger,
  versionName,
  viewPath,
  type View,
  type ViewBody
} from './consistency.ts'
import { createTestDatabase, testPool } from './database.ts'
import { percentile, runClients, seconds } from './load.ts'
import { type RedisServer, startRedisServer } from './redis-server.ts'

const EVENTS = 8
const GUESTS_PER_EVENT = 3
export const CLIENTS = 32
/** Single events, single guests (with their event), an event's guests. */
const READS: View[] = ['event', 'guest', 'event-guests']

export interface Figures {
  reads: number
  writes: number
  hits: number
  stale: number
  /** For each stale read: how long before it started the first version it missed was acknowledged. */
  staleAgesMs: number[]
  /** Tiered runs: publish → drop lag of every invalidation the instances received from each other. */
  lagsMs: number[]
  examples: string[]
  errors: number
  /** Times Redis stalled writes during the run (stallsWrites), and the invalidations owed meanwhile. */
  stalls: number
  owed: number
  /** Writes made in SQL (sqlShare): their COMMIT → applied by every instance, and stale reads of them. */
  sqlWrites: number
  databaseLagsMs: number[]
  /** Stale reads that missed a SQL write and started after every instance had applied it (or it never was). */
  lateSqlStale: number
}

export interface Run {
  fence: boolean
  mode: 'redis' | 'tiered'
  /** Two: writes and reads spread over two instances sharing Redis and the database. */
  instances: 1 | 2
  /**
   * Redis stalls writes (CLIENT PAUSE WRITE, STALL.pauseMs every STALL.everyMs) past the command
   * timeout (STALL.commandTimeoutMs): invalidations fail, are owed, and are replayed by the breaker's probe
   * while the load goes on.
   */
  stallsWrites?: boolean
  durationSeconds?: number
  /** The share of writes made in SQL on a connection of the test's own, as psql would (default 0). */
  sqlShare?: number
  /** Drops the UPDATE triggers of migration 003 first: SQL writes are then never heard. */
  dropTriggers?: boolean
}

/** The tables an entity lives in. */
const TABLE = { event: 'events', guest: 'guests' } as const

/** Clients writing and reading at random; every read judged as test/support/consistency.ts says. */
export async function check (t: Test, run: Run): Promise<Figures> {
  const { fence, mode, instances, stallsWrites = false, durationSeconds = 30, sqlShare = 0, dropTriggers = false } = run
  const redis = await startRedisServer(t)
  const database = await createTestDatabase(t)
  const env = {
    ...await cacheEnv(t, mode, redis.url),
    DATABASE_URL: database,
    CACHE_TTL: '86400', // expiry must not hide a stale entry
    CACHE_L1_TTL: '86400', // nor the L1 backstop a lost invalidation
    CACHE_FENCE: String(fence),
    FAULT_LOAD_DELAY_MS: '0-20',
    ...(stallsWrites && { REDIS_COMMAND_TIMEOUT_MS: String(STALL.commandTimeoutMs) })
  }
  const servers = []
  for (let i = 0; i < instances; i++) servers.push(await listeningTestApp(t, env))
  const figures: Figures = {
    reads: 0,
    writes: 0,
    hits: 0,
    stale: 0,
    staleAgesMs: [],
    lagsMs: [],
    examples: [],
    errors: 0,
    stalls: 0,
    owed: 0,
    sqlWrites: 0,
    databaseLagsMs: [],
    lateSqlStale: 0
  }
  /** When each instance applied each database change, by change id. */
  const applied = new Map<string, number[]>()
  for (const { app } of servers) {
    app.cache.events.observe({
      remoteInvalidated: (_generations, lagMs) => figures.lagsMs.push(lagMs),
      invalidated: (_request, _generations, result) => { if (result === 'owed') figures.owed++ },
      databaseChanged: ({ id }) => applied.set(id, [...applied.get(id) ?? [], performance.now()])
    })
  }
  const sql = testPool(t, { connectionString: database, max: 8, application_name: 'psql' })
  if (dropTriggers) {
    await sql.query('DROP TRIGGER events_notify_update ON events; DROP TRIGGER guests_notify_update ON guests')
  }
  /** Sets an entity's name in SQL; the id of the change its trigger notified. */
  const writeInSql = async (entity: string, name: string): Promise<string | undefined> => {
    const [kind, id] = entity.split(':') as ['event' | 'guest', string]
    const client = await sql.connect()
    try {
      await client.query(`UPDATE ${TABLE[kind]} SET name = $2 WHERE id = $1`, [Number(id), name])
      if (dropTriggers) return undefined
      return (await client.query<{ id: string }>("SELECT currval('cache_change_seq')::text AS id")).rows[0]!.id
    } finally {
      client.release()
    }
  }
  /** Stale reads of SQL writes, judged once the run is over (an instance may apply the change later). */
  const sqlStale: Array<{ startedAt: number, changeId: string | undefined }> = []
  const bases = servers.map((server) => server.base)
  const { eventIds, guestIds } = await seedEvents(bases[0]!, EVENTS, GUESTS_PER_EVENT)
  const ledger = versionLedger()
  const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!

  const durationMs = seconds(durationSeconds) * 1000
  const stalls = stallsWrites ? stallWrites(redis, durationMs) : Promise.resolve(0)
  await runClients(CLIENTS, durationMs, async () => {
    if (Math.random() < 0.1) {
      const isEvent = Math.random() < 0.5
      const id = isEvent ? pick(eventIds) : pick(guestIds)
      const entity = `${isEvent ? 'event' : 'guest'}:${id}`
      const written = ledger.claim(entity)
      if (written === undefined) return
      if (Math.random() < sqlShare) {
        const changeId = await writeInSql(entity, `v${written}`)
        figures.sqlWrites++
        ledger.settle(entity, written, { changeId })
        return
      }
      const response = await fetch(`${pick(bases)}/${isEvent ? 'events' : 'guests'}/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `v${written}` })
      })
      await response.arrayBuffer()
      if (response.status !== 200) {
        ledger.settle(entity)
        figures.errors++
        return
      }
      figures.writes++
      ledger.settle(entity, written)
      return
    }
    // A read, and the versions it must show at least: those acknowledged before it starts.
    const view = READS[Math.floor(Math.random() * READS.length)]!
    const url = viewPath(view, pick(eventIds), pick(guestIds))
    const required = ledger.required()
    const startedAt = performance.now()
    const response = await fetch(pick(bases) + url)
    const body = await response.json() as ViewBody
    if (response.status !== 200) { figures.errors++; return }
    figures.reads++
    if (response.headers.get('x-cache') === 'HIT') figures.hits++
    const stale = firstStale(shownBy(view, body), required)
    if (stale === undefined) return
    figures.stale++
    const missed = ledger.missed(stale.entity, stale.shown)
    if ('changeId' in missed) sqlStale.push({ startedAt, changeId: missed.changeId })
    else figures.staleAgesMs.push(startedAt - missed.at)
    const example = `${url} (${response.headers.get('x-cache')}): ` +
      `${stale.entity} showed ${versionName(stale.shown)} after ${versionName(stale.wanted)} was acknowledged`
    if (figures.examples.length < 3) figures.examples.push(example)
  })
  figures.stalls = await stalls
  const appliedEverywhere = (changeId: string | undefined) => {
    const times = changeId === undefined ? undefined : applied.get(changeId)
    return times?.length === instances ? Math.max(...times) : Infinity
  }
  for (const entries of ledger.history.values()) {
    for (const { at, changeId } of entries) {
      if (changeId !== undefined && appliedEverywhere(changeId) < Infinity) {
        figures.databaseLagsMs.push(appliedEverywhere(changeId) - at)
      }
    }
  }
  // A read that started before every instance had applied the change may miss it: that is the lag.
  figures.lateSqlStale = sqlStale.filter(({ startedAt, changeId }) => {
    const everywhere = appliedEverywhere(changeId)
    return everywhere === Infinity || startedAt > everywhere
  }).length
  return figures
}

/**
 * Write stalls that outlast the command timeout by half of it. The timeout stays a second: a shorter
 * one is tripped by a busy machine's own pauses, where this run means Redis's.
 */
const STALL = { commandTimeoutMs: 1_000, pauseMs: 1_500, everyMs: 2_000 } as const

/** Pauses Redis's write commands (STALL) until `durationMs` has passed; returns how many times. */
async function stallWrites (redis: RedisServer, durationMs: number): Promise<number> {
  const deadline = Date.now() + durationMs
  let stalls = 0
  while (Date.now() + STALL.everyMs < deadline) {
    await sleep(STALL.everyMs)
    await redis.command('CLIENT', 'PAUSE', STALL.pauseMs, 'WRITE')
    stalls++
  }
  return stalls
}

export function report (t: Test, label: string, figures: Figures) {
  const hits = `${((figures.hits / Math.max(1, figures.reads)) * 100).toFixed(1)}% hits`
  t.comment(`${label}: ${figures.reads} reads (${hits}), ${figures.writes} writes, ` +
    `${figures.stale} stale reads, ${figures.errors} errors`)
  if (figures.staleAgesMs.length > 0) {
    const latest = Math.max(...figures.staleAgesMs).toFixed(1)
    t.comment(`  stale reads of API writes started up to ${latest} ms after the write they missed was acknowledged`)
  }
  if (figures.lagsMs.length > 0) {
    const lag = (q: number) => percentile(figures.lagsMs, q).toFixed(1)
    t.comment(`  invalidation lag (publish → dropped on the other instance), ${figures.lagsMs.length} messages: ` +
      `p50 ${lag(0.5)} ms, p99 ${lag(0.99)} ms, max ${Math.max(...figures.lagsMs).toFixed(1)} ms`)
  }
  if (figures.sqlWrites > 0) {
    const lags = figures.databaseLagsMs
    const lag = (q: number) => percentile(lags, q).toFixed(1)
    const lagLine = lags.length > 0
      ? `COMMIT → applied p50 ${lag(0.5)} ms, p99 ${lag(0.99)} ms, max ${Math.max(...lags).toFixed(1)} ms`
      : 'none heard'
    t.comment(`  ${figures.sqlWrites} writes in SQL, ${lags.length} applied by every instance (${lagLine}); ` +
      `${figures.lateSqlStale} stale reads of them outside that`)
  }
  for (const example of figures.examples) t.comment(`  e.g. ${example}`)
}
