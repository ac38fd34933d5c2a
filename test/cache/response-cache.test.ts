// The cache core on its own, with no Fastify and no HTTP: the read path and invalidation against a
// MemoryStore, and against a store that fails on purpose (standing in for a Redis that is down).
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { GuardedStore, type CacheLog } from '../../src/cache/resilience/guarded-store.ts'
import { etagOf } from '../../src/cache/http/etag.ts'
import { MemoryStore } from '../../src/cache/stores/memory-store.ts'
import { OwedLedger } from '../../src/cache/resilience/owed-ledger.ts'
import { ResponseCache } from '../../src/cache/response-cache.ts'
import type { CacheOutcome, Served } from '../../src/cache/served.ts'
import type { CachedResponse, CacheStore, EntryLife, Lookup, StoredEntry } from '../../src/cache/stores/store.ts'
import { keyspace, type View } from '../../src/cache/views.ts'
import { until } from '../support/waiting.ts'

const OPTIONS = {
  prefix: 'core', ttlSeconds: 60, negativeTtlSeconds: 5, invalidate: true, fence: true, precompress: true
}
const { views, invalidations } = keyspace(OPTIONS.prefix)
const memory = () => new MemoryStore({ maxBytes: 1 << 20, maxEntries: 1_000 })

function response (text: string, status = 200): CachedResponse {
  const body = Buffer.from(JSON.stringify({ text }))
  return { status, encoding: 'identity', etag: etagOf(body), body }
}

/** A produce that counts its loads and answers with the current `value`. */
function source (initial: string) {
  const state = { value: initial, loads: 0, delayMs: 0 }
  const produce = async () => {
    state.loads++
    const value = state.value
    if (state.delayMs > 0) await sleep(state.delayMs)
    return response(value)
  }
  return { state, produce }
}

const text = ({ response }: Served) => JSON.parse(response.body.toString()).text as string

/** A store that can be made to fail: every call rejects while `down`, as a Redis that stopped answering. */
class FailingStore implements CacheStore {
  down = false
  readonly inner = memory()
  calls = 0

  async #guard<T> (work: () => T): Promise<T> {
    this.calls++
    await sleep(1)
    if (this.down) throw new Error('store down on purpose')
    return work()
  }

  lookup (key: string, generations: readonly string[]): Promise<Lookup> {
    return this.#guard(() => this.inner.lookup(key, generations))
  }

  fill (entries: readonly StoredEntry[], generations: readonly string[], stamp: string, life: EntryLife,
    fenced: boolean): Promise<boolean> {
    return this.#guard(() => this.inner.fill(entries, generations, stamp, life, fenced))
  }

  invalidate (generations: readonly string[]): Promise<void> {
    return this.#guard(() => this.inner.invalidate(generations))
  }

  inspect (key: string) { return this.inner.inspect(key) }
  generationValues (generations: readonly string[]) { return this.inner.generationValues(generations) }
  flush (pattern: string) { return this.inner.flush(pattern) }
  async close () {}
}

function logCapture () {
  const lines: Array<{ level: string, message: string }> = []
  const log: CacheLog = {
    info: (_details, message) => lines.push({ level: 'info', message }),
    warn: (_details, message) => lines.push({ level: 'warn', message }),
    error: (_details, message) => lines.push({ level: 'error', message })
  }
  return { lines, log }
}

/** The core over a store that fails on purpose, behind its breaker and with a ledger (no journal). */
function failingCache () {
  const failing = new FailingStore()
  const { lines, log } = logCapture()
  const store = new GuardedStore(failing, {
    shardOf: () => 'only',
    probe: async () => { if (failing.down) throw new Error('still down') },
    log
  })
  const ledger = new OwedLedger({ store, log })
  const cache = new ResponseCache({ ...OPTIONS, mode: 'redis', store, ledger })
  return { failing, cache, lines }
}

t.test('memory: a miss loads and stores, the next read is a hit with the same bytes and no load', async (t) => {
  const cache = new ResponseCache({ ...OPTIONS, mode: 'memory', store: new GuardedStore(memory()) })
  const outcomes: CacheOutcome[] = []
  cache.events.observe({ served: (_context, _view, outcome) => outcomes.push(outcome) })
  const { state, produce } = source('first')
  const view = views.event(1)

  const miss = await cache.read(view, 'identity', produce, {})
  t.equal(miss.outcome, 'MISS')
  t.equal(text(miss), 'first')
  const hit = cache.read(view, 'identity', produce, {})
  t.notOk(hit instanceof Promise, 'a memory hit is answered synchronously')
  t.equal((hit as Served).outcome, 'HIT')
  t.same((hit as Served).response.body, miss.response.body, 'the stored bytes, as they were produced')
  t.equal(state.loads, 1, 'one load for two reads')
  t.same(outcomes, ['MISS', 'HIT'], 'observers hear each outcome')
})

t.test('memory: concurrent misses share one load; a write makes the next read load again', async (t) => {
  const cache = new ResponseCache({ ...OPTIONS, mode: 'memory', store: new GuardedStore(memory()) })
  const { state, produce } = source('before')
  state.delayMs = 20
  const view = views.event(2)

  const reads = await Promise.all(Array.from({ length: 10 }, () => cache.read(view, 'identity', produce, {})))
  t.equal(state.loads, 1, 'ten concurrent misses, one load')
  t.same(reads.map(text), Array(10).fill('before'))

  state.value = 'after'
  await cache.invalidate(invalidations.eventChanged(2, []))
  const after = await cache.read(view, 'identity', produce, {})
  t.equal(after.outcome, 'MISS', 'the invalidated view is read again')
  t.equal(text(after), 'after')
  t.equal(state.loads, 2)
})

t.test('the fence: a load that a write overtook is not stored', async (t) => {
  const cache = new ResponseCache({ ...OPTIONS, mode: 'memory', store: new GuardedStore(memory()) })
  const fills: string[] = []
  cache.events.observe({ filled: (_context, _view, result) => fills.push(result) })
  const { state, produce } = source('old')
  const view = views.event(3)

  state.delayMs = 30
  const slow = cache.read(view, 'identity', produce, {})
  await sleep(5)
  state.value = 'new'
  await cache.invalidate(invalidations.eventChanged(3, []))
  t.equal(text(await slow), 'old', 'the overtaken read still answers with what it loaded')
  t.same(fills, ['refused'], 'but its fill is refused')

  state.delayMs = 0
  const next = await cache.read(view, 'identity', produce, {})
  t.equal(next.outcome, 'MISS')
  t.equal(text(next), 'new', 'no stale write-back')
})

t.test('a 404 is cached like any response', async (t) => {
  const cache = new ResponseCache({ ...OPTIONS, mode: 'memory', store: new GuardedStore(memory()) })
  let loads = 0
  const produce = async () => {
    loads++
    return response('not found', 404)
  }
  await cache.read(views.event(404), 'identity', produce, {})
  const again = await cache.read(views.event(404), 'identity', produce, {})
  t.equal(again.outcome, 'HIT')
  t.equal(again.response.status, 404)
  t.equal(loads, 1)
})

t.test('off: every read loads, and invalidating is a no-op', async (t) => {
  const cache = new ResponseCache({ ...OPTIONS, mode: 'off', store: undefined })
  const { state, produce } = source('x')
  const first = await cache.read(views.event(5), 'identity', produce, {})
  const second = await cache.read(views.event(5), 'identity', produce, {})
  t.same([first.outcome, second.outcome], ['OFF', 'OFF'])
  t.equal(first.cacheMs, undefined, 'no cache step to time')
  t.equal(state.loads, 2)
  await cache.invalidate(invalidations.eventChanged(5, []))
  t.equal(cache.partlyBypassed, undefined, 'nothing that can fail')
})

t.test('a failing store: reads become BYPASS, the breaker opens, and loads are still shared', async (t) => {
  const { failing, cache, lines } = failingCache()
  t.teardown(() => cache.close())
  const { state, produce } = source('from the database')
  const view = views.event(6)

  failing.down = true
  for (let i = 0; i < 3; i++) t.equal((await cache.read(view, 'identity', produce, {})).outcome, 'BYPASS')
  t.equal(cache.partlyBypassed, true, 'three failures open the breaker')
  t.ok(lines.some(({ message }) => message.startsWith('cache circuit breaker opened')), 'and say so')

  const asked = failing.calls
  state.delayMs = 20
  const reads = await Promise.all(Array.from({ length: 5 }, () => cache.read(view, 'identity', produce, {})))
  t.same(reads.map(({ outcome }) => outcome), Array(5).fill('BYPASS'))
  t.equal(failing.calls, asked, 'an open breaker: the store is not asked at all')
  t.equal(state.loads, 4, 'five concurrent bypassed reads, one load')
})

t.test('a bypassed read shares only a load begun after it came: a write acknowledged meanwhile is seen', async (t) => {
  const { failing, cache } = failingCache()
  t.teardown(() => cache.close())
  const { state, produce } = source('v1')
  const view = views.event(7)
  failing.down = true
  for (let i = 0; i < 3; i++) await cache.read(view, 'identity', produce, {})

  // The load reads its row, then takes 30 ms to answer. Meanwhile another instance writes v2 and
  // answers: this instance hears nothing of it (its store is down), yet a read that starts after
  // the answer must not be given the load that read v1.
  state.delayMs = 30
  const loads = state.loads
  const before = cache.read(view, 'identity', produce, {})
  await sleep(10)
  state.value = 'v2'
  const read = () => cache.read(view, 'identity', produce, {})
  const after = await Promise.all([read(), read()])
  t.equal(text(await before), 'v1')
  t.same(after.map(text), ['v2', 'v2'], 'the reads after the write see it')
  t.equal(state.loads - loads, 2, 'and share one load, queued behind the first')
})

t.test('a failing store: an invalidation is owed, its views bypass the cache until it is replayed', async (t) => {
  const { failing, cache } = failingCache()
  t.teardown(() => cache.close())
  const { state, produce } = source('v1')
  const owedView = views.event(7)
  const otherView = views.event(8)
  await cache.read(owedView, 'identity', produce, {})
  await cache.read(otherView, 'identity', produce, {})
  const results: string[] = []
  cache.events.observe({ invalidated: (_context, _generations, result) => results.push(result) })

  failing.down = true
  state.value = 'v2'
  await cache.invalidate(invalidations.eventChanged(7, []))
  t.same(results, ['owed'], 'the invalidation could not be sent')
  t.equal(cache.partlyBypassed, true)

  failing.down = false
  // The breaker is open and its probe not yet due: what depends on the owed generation bypasses.
  const owedRead = await cache.read(owedView, 'identity', produce, {})
  t.equal(owedRead.outcome, 'BYPASS')
  t.equal(text(owedRead), 'v2', 'read from the database, never the old entry')

  await until('the probe closes the breaker and the replay pays what was owed',
    async () => cache.partlyBypassed === false, { withinMs: 10_000, everyMs: 20 })
  const replayed = await cache.read(owedView, 'identity', produce, {})
  t.equal(replayed.outcome, 'MISS', 'the replayed invalidation made the old entry dead')
  t.equal(text(replayed), 'v2')
  t.equal((await cache.read(otherView, 'identity', produce, {})).outcome, 'HIT', 'an unrelated view kept its entry')
})

t.test('closing with invalidations still owed and no journal says they are lost', async (t) => {
  const { failing, cache, lines } = failingCache()
  failing.down = true
  await cache.invalidate(invalidations.eventChanged(9, []))
  await cache.close()
  const lost = lines.filter(({ level, message }) => level === 'error' && message.includes('owed at shutdown are lost'))
  t.equal(lost.length, 1, 'one error line at shutdown')
})

/** A memory-backed cache whose entries, 404s included, live `ttlMs` (no jitter can make them outlive it). */
function shortLived (ttlMs: number, options: { graceSeconds?: number, refreshAhead?: boolean }) {
  const store = new GuardedStore(memory())
  const ttlSeconds = ttlMs / 1000
  return new ResponseCache({
    ...OPTIONS, ttlSeconds, negativeTtlSeconds: ttlSeconds, ...options, mode: 'memory', store
  })
}

const failure = new Error('the database is down on purpose')
const failing = async (): Promise<CachedResponse> => { throw failure }

t.test('grace: a failed load is answered with the expired response, never with an invalidated one', async (t) => {
  const cache = shortLived(30, { graceSeconds: 10 })
  const { produce } = source('stored')
  const [kept, invalidated, overtaken] = [views.event(11), views.event(12), views.event(13)]
  for (const view of [kept, invalidated, overtaken]) await cache.read(view, 'identity', produce, {})
  await cache.invalidate(invalidated.dependsOn)
  await sleep(40)

  const stale = await cache.read(kept, 'identity', failing, {})
  t.equal(stale.outcome, 'STALE')
  t.equal(text(stale), 'stored', 'the expired bytes')
  t.equal(stale.stale?.error, failure, 'with the failure it stands in for')
  t.equal(stale.stale?.ageSeconds, 0, 'and its age')
  const loaded = await cache.read(kept, 'identity', source('fresh').produce, {})
  t.same([loaded.outcome, text(loaded)], ['MISS', 'fresh'], 'a load that works is always preferred')

  await t.rejects(Promise.resolve(cache.read(invalidated, 'identity', failing, {})), failure,
    'an entry a write invalidated is never served')
  const writeDuringLoad = async (): Promise<CachedResponse> => {
    await cache.invalidate(overtaken.dependsOn)
    throw failure
  }
  await t.rejects(Promise.resolve(cache.read(overtaken, 'identity', writeDuringLoad, {})), failure,
    'nor one a write invalidated while the failing load ran')
  await t.rejects(Promise.resolve(cache.read(views.event(14), 'identity', failing, {})), failure,
    'nothing stored: the failure stands')
})

t.test('grace: none by default, none for a 404, none past it', async (t) => {
  const { produce } = source('stored')
  const graceless = shortLived(20, {})
  await graceless.read(views.event(15), 'identity', produce, {})
  const graceful = shortLived(20, { graceSeconds: 0.05 })
  await graceful.read(views.event(16), 'identity', async () => response('none', 404), {})
  await graceful.read(views.event(17), 'identity', produce, {})
  await sleep(30)
  await t.rejects(Promise.resolve(graceless.read(views.event(15), 'identity', failing, {})), failure, 'no grace')
  await t.rejects(Promise.resolve(graceful.read(views.event(16), 'identity', failing, {})), failure, 'a 404: none')
  t.equal((await graceful.read(views.event(17), 'identity', failing, {})).outcome, 'STALE', 'within the grace')
  await sleep(60)
  await t.rejects(Promise.resolve(graceful.read(views.event(17), 'identity', failing, {})), failure, 'past it')
})

t.test('refresh-ahead: hits near the expiry refresh once, in the background, and the key never expires', async (t) => {
  const ttlMs = 300
  const cache = shortLived(ttlMs, { refreshAhead: true })
  const refreshed: string[] = []
  cache.events.observe({ refreshed: (_view, result) => refreshed.push(result) })
  const { state, produce } = source('v1')
  const view = views.event(21)
  await cache.read(view, 'identity', produce, {})
  state.value = 'v2'
  // Well within the last tenth of the TTL, where the refresh runs.
  state.delayMs = 10
  const outcomes = new Set<CacheOutcome>()
  const seen = new Set<string>()
  const started = performance.now()
  // Past the first entry's expiry and short of the second one's refresh point.
  while (performance.now() - started < 1.5 * ttlMs) {
    const served = await cache.read(view, 'identity', produce, {})
    outcomes.add(served.outcome)
    seen.add(text(served))
    await sleep(2)
  }
  t.same([...outcomes], ['HIT'], 'every read a hit')
  t.same([...seen], ['v1', 'v2'], 'the stored response, then the refreshed one')
  t.equal(state.loads, 2, 'one refresh, however many hits came while it ran')
  t.same(refreshed, ['stored'])
})

t.test('refresh-ahead: a write during the refresh refuses it, and a failed one changes nothing', async (t) => {
  const cache = shortLived(200, { refreshAhead: true })
  const refreshed: string[] = []
  cache.events.observe({ refreshed: (_view, result) => refreshed.push(result) })
  /** The first load fills; the second is the refresh, and does `onRefresh`; any later one loads v2. */
  const loads = (onRefresh: () => Promise<CachedResponse>) => {
    let count = 0
    return async () => ++count === 1 ? response('v1') : count === 2 ? onRefresh() : response('v2')
  }
  const pollUntilRefreshed = async (view: View, produce: () => Promise<CachedResponse>) => {
    const before = refreshed.length
    await cache.read(view, 'identity', produce, {})
    await until('a refresh', async () => {
      await cache.read(view, 'identity', produce, {})
      return refreshed.length > before
    }, { everyMs: 2 })
  }

  const overtaken = views.event(22)
  const writeDuringRefresh = loads(async () => {
    await cache.invalidate(overtaken.dependsOn)
    return response('loaded before the write')
  })
  await pollUntilRefreshed(overtaken, writeDuringRefresh)
  t.same(refreshed, ['refused'], 'the fence refuses the refresh a write overtook')
  t.equal(text(await cache.read(overtaken, 'identity', writeDuringRefresh, {})), 'v2', 'its bytes are never served')

  const failed = views.event(23)
  const failedRefresh = loads(failing)
  await pollUntilRefreshed(failed, failedRefresh)
  t.same(refreshed, ['refused', 'failed'])
  t.equal((await cache.read(failed, 'identity', failedRefresh, {})).outcome, 'HIT', 'the entry serves on')
})
