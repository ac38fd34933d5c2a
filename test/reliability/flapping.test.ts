// The consistency checker while Redis flaps: two instances share the database and a Redis, each
// reaching Redis through a TCP proxy of its own, so that one can lose Redis while the other keeps it.
// Writes go through instance A only; readers read every view on both. A read may not be older than
// a write acknowledged before it started (test/support/consistency.ts), whatever the faults.
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { listeningTestApp } from '../support/app.ts'
import { cacheEnv } from '../support/cache-modes.ts'
import {
  DELETED,
  firstStale,
  seedEvents,
  shownBy,
  versionLedger,
  versionName,
  viewPath,
  type View,
  type ViewBody
} from '../support/consistency.ts'
import { createTestDatabase, withClient } from '../support/database.ts'
import { percentile, runClients, statusTally } from '../support/load.ts'
import { startRedisServer } from '../support/redis-server.ts'
import { startTcpProxy } from '../support/tcp-proxy.ts'

const EVENTS = 8
const GUESTS_PER_EVENT = 3
const WRITERS = 4
const READERS = 40
const VIEWS: View[] = ['event', 'guest', 'event-guests', 'events', 'guests']
/**
 * Long enough that a busy machine's own stalls do not time commands out; short enough that a cut
 * is noticed (each command to a cut Redis waits this long) well within the cut.
 */
const COMMAND_TIMEOUT_MS = 1_000
/**
 * The load's length: the last fault comes 7.5 s before its end, past the breaker's longest probe
 * back-off, so the last phase shows the recovered state.
 */
const DURATION_MS = 20_000
/** How long after PostgreSQL's sessions were terminated a request may fail (503) while the pools reconnect. */
const DATABASE_RECOVERY_MS = 5_000
const INSTANCES = ['A', 'B'] as const

/** One step of the schedule, `at` ms into the load. */
interface Mark { name: string, at: number }

interface StaleRead {
  instance: 'A' | 'B'
  path: string
  cache: string | null
  entity: string
  shown: number
  wanted: number
  /** From the acknowledgement of the first version it missed to the read's start. */
  ageMs: number
  at: number
}

interface Answer { status: number, cache: string | null, body: unknown, at: number, ms: number }

/** A request that never throws: a dropped connection or no answer in 10 s is status 0. */
async function request (url: string, init?: RequestInit): Promise<Answer> {
  const at = performance.now()
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
    const text = await response.text()
    const body = response.status === 200 ? JSON.parse(text) as unknown : undefined
    return { status: response.status, cache: response.headers.get('x-cache'), body, at, ms: performance.now() - at }
  } catch {
    return { status: 0, cache: null, body: undefined, at, ms: performance.now() - at }
  }
}

async function flap (t: Test, mode: 'redis' | 'tiered') {
  const redis = await startRedisServer(t)
  const proxies = [await startTcpProxy(t, redis.port), await startTcpProxy(t, redis.port)]
  const database = await createTestDatabase(t)
  const shared = {
    ...await cacheEnv(t, mode, redis.url),
    DATABASE_URL: database,
    REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    CACHE_TTL: '86400', // expiry must not hide a stale entry
    CACHE_L1_TTL: '86400', // nor the L1 backstop a lost invalidation
    FAULT_LOAD_DELAY_MS: '0-20'
  }
  const servers = []
  for (const proxy of proxies) servers.push(await listeningTestApp(t, { ...shared, REDIS_URL: proxy.url('redis') }))
  const bases = servers.map(({ base }) => base)
  /** When each instance answered an invalidation as owed (Redis did not get it). */
  const owed: number[][] = [[], []]
  /** Tiered: each message one instance heard from the other, when it was published and how late. */
  const messages: Array<{ publishedAt: number, lagMs: number }> = []
  servers.forEach(({ app }, i) => app.cache.events.observe({
    invalidated: (_request, _generations, result) => { if (result === 'owed') owed[i]!.push(performance.now()) },
    remoteInvalidated: (_generations, lagMs) => messages.push({ publishedAt: performance.now() - lagMs, lagMs })
  }))

  const { eventIds, guestIds, eventOf } = await seedEvents(bases[0]!, EVENTS, GUESTS_PER_EVENT)
  const ledger = versionLedger()
  /** Guests writers may write; a guest leaves it before its deletion is sent. */
  const live = new Set(guestIds)
  const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!
  const failures: Array<Answer & { what: string }> = []
  /** Each instance's 200s: when each read started, and its X-Cache. */
  const reads = INSTANCES.map((): Array<{ at: number, cache: string | null }> => [])
  const stale: StaleRead[] = []
  let writes = 0
  let started = 0

  /** A read of `view` on instance `i`, judged against the versions acknowledged before it started. */
  const read = async (i: number, view: View, eventId: number, guestId: number): Promise<Answer> => {
    const path = viewPath(view, eventId, guestId)
    const required = ledger.required()
    const answer = await request(bases[i] + path)
    const gone = view === 'guest' && !live.has(guestId)
    if (answer.status !== 200 && !(answer.status === 404 && gone)) failures.push({ ...answer, what: `GET ${path}` })
    if (answer.status !== 200) return answer
    reads[i]!.push({ at: answer.at, cache: answer.cache })
    const missed = firstStale(shownBy(view, answer.body as ViewBody), required)
    if (missed !== undefined) {
      const ageMs = answer.at - ledger.missed(missed.entity, missed.shown).at
      stale.push({ instance: INSTANCES[i]!, path, cache: answer.cache, ...missed, ageMs, at: answer.at - started })
    }
    return answer
  }
  /** Deletes a guest through A once no write of it is in flight; then reads it on B. */
  const deleteGuest = async (guestId: number): Promise<[Answer, Answer]> => {
    const entity = `guest:${guestId}`
    live.delete(guestId)
    let claimed = ledger.claim(entity)
    for (let tries = 0; claimed === undefined && tries < 1_000; tries++) {
      await sleep(5)
      claimed = ledger.claim(entity)
    }
    if (claimed === undefined) throw new Error(`${entity}: its write never ended`)
    const answer = await request(`${bases[0]}/guests/${guestId}`, { method: 'DELETE' })
    ledger.settle(entity, answer.status === 204 ? DELETED : undefined)
    const onB = await read(1, 'guest', eventOf.get(guestId)!, guestId)
    return [answer, onB]
  }

  const marks: Mark[] = [{ name: 'warm-up', at: 0 }]
  const deletions: Array<{ guestId: number, during: string, status: number, onB: number, readAt: number }> = []
  const mark = (name: string) => marks.push({ name, at: performance.now() - started })
  const until = (ms: number) => sleep(Math.max(0, started + ms - performance.now()))
  const terminateSessions = async () => {
    const admin = new URL(database)
    admin.pathname = '/postgres'
    await withClient(admin.toString(), (client) => client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [new URL(database).pathname.slice(1)]
    ))
  }
  /**
   * Seconds into the load: A cut off from Redis 2–4 (a guest deleted through A at 3.5, then read on
   * B); Redis frozen 6–8 (another at 7); Redis killed at 10 and restarted empty at 11; the apps'
   * PostgreSQL sessions terminated at 12.5 (new ones allowed).
   */
  const faults = async () => {
    // Not awaited before the fault's end: a slow answer must not make the fault last longer.
    const deleting = async (guestId: number) => {
      const during = marks.at(-1)!.name
      const [answer, onB] = await deleteGuest(guestId)
      deletions.push({ guestId, during, status: answer.status, onB: onB.status, readAt: onB.at - started })
    }
    try {
      await until(2_000)
      proxies[0]!.cut()
      mark('A cut off from Redis')
      await until(3_500)
      const whileCut = deleting(guestIds[0]!)
      await until(4_000)
      proxies[0]!.heal()
      mark('A healed')
      await whileCut
      await until(6_000)
      redis.freeze()
      mark('Redis frozen')
      await until(7_000)
      const whileFrozen = deleting(guestIds[GUESTS_PER_EVENT]!)
      await until(8_000)
      redis.thaw()
      mark('Redis thawed')
      await whileFrozen
      await until(10_000)
      await redis.stop()
      mark('Redis killed')
      await until(11_000)
      await redis.start()
      mark('Redis restarted empty')
      await until(12_500)
      mark('PostgreSQL sessions terminated')
      await terminateSessions()
    } finally {
      proxies[0]!.heal()
      redis.thaw()
    }
  }

  started = performance.now()
  await Promise.all([
    faults(),
    runClients(WRITERS + READERS, DURATION_MS, async (client) => {
      if (client >= WRITERS) {
        await read(client % 2, pick(VIEWS), pick(eventIds), pick(guestIds))
        return
      }
      const isEvent = Math.random() < 0.5
      const id = isEvent ? pick(eventIds) : pick([...live])
      const entity = `${isEvent ? 'event' : 'guest'}:${id}`
      const written = ledger.claim(entity)
      if (written === undefined) return await sleep(1)
      const answer = await request(`${bases[0]}/${isEvent ? 'events' : 'guests'}/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `v${written}` })
      })
      ledger.settle(entity, answer.status === 200 ? written : undefined)
      if (answer.status === 200) writes++
      else failures.push({ ...answer, what: `PATCH /${entity}` })
    })
  ])
  return { marks, deletions, owed, messages, reads, stale, writes, failures, started }
}

type Run = Awaited<ReturnType<typeof flap>>

/** The phase (the last mark before it) a time into the load falls in. */
function phaseAt (marks: Mark[], at: number): string {
  return marks.findLast((mark) => mark.at <= at)!.name
}

function report (t: Test, mode: string, run: Run, lagBound: number | undefined) {
  const { marks, reads, stale, messages } = run
  /** "1200 reads: 300 HIT, 20 BYPASS" */
  const tally = (served: Run['reads'][number]) => `${served.length} reads: ` +
    ['HIT', 'BYPASS'].map((cache) => `${served.filter((read) => read.cache === cache).length} ${cache}`).join(', ')
  t.comment(`${mode}: A ${tally(reads[0]!)}; B ${tally(reads[1]!)}; ${run.writes} writes through A, ` +
    `invalidations owed: ${run.owed[0]!.length} on A, ${run.owed[1]!.length} on B; ${stale.length} stale reads`)
  for (const [i, { name, at }] of marks.entries()) {
    const end = marks[i + 1]?.at ?? DURATION_MS
    const inPhase = stale.filter((read) => phaseAt(marks, read.at) === name)
    const within = (time: number) => time - run.started >= at && time - run.started < end
    const on = (j: number) => tally(reads[j]!.filter((read) => within(read.at)))
    const lags = messages.filter(({ publishedAt }) => within(publishedAt)).map(({ lagMs }) => lagMs)
    const lag = lags.length > 0
      ? `, ${lags.length} messages published (max lag ${Math.max(...lags).toFixed(0)} ms)`
      : ''
    const owed = run.owed[0]!.filter(within).length
    t.comment(`  ${(at / 1000).toFixed(1)} s ${name}: A ${on(0)}, ${owed} owed; B ${on(1)}${lag}; ` +
      `${inPhase.length} stale`)
  }
  for (const { guestId, during, status, onB, readAt } of run.deletions) {
    t.comment(`  guest ${guestId} deleted through A (${during}): ${status}; ` +
      `then read on B at ${(readAt / 1000).toFixed(2)} s (${phaseAt(marks, readAt)}): ${onB}`)
  }
  if (messages.length > 0) {
    const lags = messages.map(({ lagMs }) => lagMs)
    t.comment(`  invalidation lag, ${lags.length} messages: p50 ${percentile(lags, 0.5).toFixed(1)} ms, ` +
      `p99 ${percentile(lags, 0.99).toFixed(1)} ms, max ${Math.max(...lags).toFixed(1)} ms; ` +
      `bound for stale reads on B (leaving out what the frozen Redis held) ${lagBound?.toFixed(1)} ms`)
  }
  if (run.failures.length > 0) t.comment(`  failed requests: ${statusTally(run.failures)}`)
  for (const { what, status, at, ms } of run.failures.slice(0, 8)) {
    const into = at - run.started
    t.comment(`  failed: ${what} ${status} at ${(into / 1000).toFixed(2)} s (${phaseAt(marks, into)}) ` +
      `after ${ms.toFixed(0)} ms`)
  }
  // The first two of each phase.
  const examples = stale.filter((read, i) =>
    stale.slice(0, i).filter((other) => phaseAt(marks, other.at) === phaseAt(marks, read.at)).length < 2)
  for (const read of examples) {
    t.comment(`  e.g. ${(read.at / 1000).toFixed(2)} s (${phaseAt(marks, read.at)}) GET ${read.path} on ` +
      `${read.instance} (${read.cache}): ${read.entity} showed ${versionName(read.shown)}, ` +
      `${versionName(read.wanted)} acknowledged; missed one acknowledged ${read.ageMs.toFixed(0)} ms before`)
  }
}

/** The checks both modes share: traffic on both instances, faults that bit, failures only where PostgreSQL was lost. */
function checkRun (t: Test, run: Run) {
  // Enough to mean something even with both cores busy, where a run makes far less traffic.
  t.ok(run.reads.every((served) => served.length > 200) && run.writes > 30, 'enough traffic on both instances')
  t.ok(run.owed[0]!.length > 0, `writes through A were answered with their invalidation owed (${run.owed[0]!.length})`)
  t.same(run.deletions.map(({ status, onB }) => [status, onB]), [[204, 404], [204, 404]],
    'each guest deleted through A is a 404 on B at once')
  const [cutFrom, cutTo] = ['A cut off from Redis', 'A healed']
    .map((name) => run.started + run.marks.find((mark) => mark.name === name)!.at)
  t.ok(run.reads[1]!.some(({ at, cache }) => cache === 'HIT' && at > cutFrom! && at < cutTo!),
    'B served hits from Redis while A was cut off from it')
  const settled = run.started + run.marks.at(-1)!.at + 2_000
  t.ok(run.reads.every((served) => served.some(({ at, cache }) => cache === 'HIT' && at > settled)),
    'both instances serve hits again after the last fault')
  const lost = run.started + run.marks.find(({ name }) => name.startsWith('PostgreSQL'))!.at
  const unexplained = run.failures.filter(({ status, at, ms }) =>
    status !== 503 || at + ms < lost || at > lost + DATABASE_RECOVERY_MS)
  t.same(unexplained.map(({ what, status }) => `${what}: ${status}`), [],
    'every request answered, 503 only while PostgreSQL\'s sessions were being replaced')
}

t.test('redis mode, two instances, Redis flapping (A cut off, frozen, killed and restarted empty) and ' +
  'PostgreSQL\'s sessions lost: no read older than a write acknowledged before it', async (t) => {
  const run = await flap(t, 'redis')
  report(t, 'redis', run, undefined)
  checkRun(t, run)
  t.equal(run.stale.length, 0, 'no stale read on either instance')
})

t.test('tiered mode, the same schedule: no read on A is stale, and none on B misses a write by more than ' +
  'the invalidation lag', async (t) => {
  const run = await flap(t, 'tiered')
  // The lag of the messages Redis passed on as it came: not of those in flight while it was frozen.
  // Such a message belongs to a write whose invalidation timed out, i.e. was owed, and so was told to B
  // before it answered: counting its delay would tolerate the very stale reads the announcement stops.
  const frozen = run.marks.find(({ name }) => name === 'Redis frozen')!.at + run.started
  const thawed = run.marks.find(({ name }) => name === 'Redis thawed')!.at + run.started
  const calm = run.messages.filter(({ publishedAt, lagMs }) => publishedAt > thawed || publishedAt + lagMs < frozen)
  const bound = Math.max(...calm.map(({ lagMs }) => lagMs), 0) + 10
  report(t, 'tiered', run, bound)
  checkRun(t, run)
  t.ok(calm.length >= 20, `B heard A's invalidations (${calm.length} messages outside the freeze)`)
  t.same(run.stale.filter(({ instance }) => instance === 'A'), [], 'no stale read on A, the writer')
  const onB = run.stale.filter(({ instance }) => instance === 'B')
  const late = onB.filter(({ ageMs }) => ageMs > bound)
  t.equal(late.length, 0, `no stale read on B later than the largest lag + 10 ms (${bound.toFixed(1)} ms); ` +
    `${onB.length - late.length} within it`)
})
