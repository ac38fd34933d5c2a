import { brotliCompressSync } from 'node:zlib'
import type { Test } from 'tap'
import { encodedKey, type Encoding } from '../../src/cache/encodings.ts'
import { codedEtag, etagOf } from '../../src/cache/http/etag.ts'
import type { AppStore, CachedResponse, EntryLife, Lookup, StoredEntry } from '../../src/cache/stores/store.ts'
import { keyspace, leaseKey, type Keyspace, type View } from '../../src/cache/views.ts'
import type { SiteMaker } from '../support/stores.ts'
import { until } from '../support/waiting.ts'

/**
 * What every CacheStore promises, as one suite run against each store (test/cache/stores.test.ts),
 * the way undici runs its `cacheStoreTests` per store and bentocache its driver suite per driver.
 * A store that keeps a rule differently says so here, next to the rule.
 */

// The shape of a Lookup and of the panel's members is read only through these helpers, so a change
// to store.ts's types changes them and nothing below.

/** The store as the suite drives it: the request path's members and the panel's. */
export type ContractStore = AppStore

/** The response of a hit, or undefined. */
export function hitOf (lookup: Lookup): CachedResponse | undefined {
  return lookup.state === 'hit' ? lookup.response : undefined
}

/** The response of an entry past its TTL but in its grace, or undefined. */
export function expiredOf (lookup: Lookup): CachedResponse | undefined {
  return lookup.state === 'expired' ? lookup.response : undefined
}

/** Neither a hit nor an expired entry: a load is needed. */
export function isMiss (lookup: Lookup): boolean {
  return lookup.state === 'miss'
}

/** What a fill passes back: the generations the lookup read. */
export function stampOf (lookup: Lookup): string {
  return lookup.stamp
}

/** The part of the stamp every instance reads alike, where the store has one apart from the stamp. */
export function sharedStampOf (lookup: Lookup): string | undefined {
  return lookup.sharedStamp
}

/** 'l1' for a tiered store's in-process hit. */
export function tierOf (lookup: Lookup): 'l1' | undefined {
  return lookup.state === 'hit' ? lookup.tier : undefined
}

/** A hit's refresh-ahead state: whether it is due, and when it is (or was) due. */
export function refreshOf (lookup: Lookup): { due: boolean, at: number | undefined } {
  if (lookup.state !== 'hit') return { due: false, at: undefined }
  return { due: lookup.refreshDue === true, at: lookup.refreshAt }
}

/** When the entry found was stored and expires, where the store records them. */
export function timesOf (lookup: Lookup): { storedAt: number | undefined, expiresAt: number | undefined } {
  return { storedAt: lookup.storedAt, expiresAt: lookup.expiresAt }
}

// The panel's members (off the request path).

export function inspect (store: ContractStore, key: string): Promise<{ ttlMs: number, bytes: number } | undefined> {
  return store.inspect(key)
}

export function generationValues (store: ContractStore, generations: readonly string[]): Promise<string[]> {
  return store.generationValues(generations)
}

export function flush (store: ContractStore, pattern: string): Promise<number> {
  return store.flush(pattern)
}

// Responses and views.

const PAGE = { limit: 100, offset: 0 }
/** Long enough that nothing expires while a test runs. */
const LONG: EntryLife = { ttlMs: 60_000 }

/**
 * A response's bytes as a route would store them: binary-safe checks need a newline and a space
 * (the Redis store's header ends at the first newline and splits on spaces) and every byte value.
 */
export function bodyOf (text: string): Buffer {
  return Buffer.concat([Buffer.from(`{"text":${JSON.stringify(text)}}\n \r\t`), Buffer.from([0, 0x0a, 0x20, 0xff])])
}

/** A response's identity and brotli representations, each under its own key, as a fill stores them. */
export function representationsOf (view: View, text: string, status = 200): StoredEntry[] {
  const identity = bodyOf(text.repeat(50))
  const etag = etagOf(identity)
  const coded = (encoding: Encoding, body: Buffer): StoredEntry => ({
    key: encodedKey(view.key, encoding),
    response: { status, encoding, etag: codedEtag(etag, encoding), body }
  })
  return [coded('identity', identity), coded('br', brotliCompressSync(identity))]
}

/** The same response, field by field, the body as a Buffer of the same bytes. */
export function assertSameResponse (t: Test, found: CachedResponse | undefined, stored: CachedResponse, what: string) {
  if (found === undefined) {
    t.fail(`${what}: nothing found`)
    return
  }
  t.same(
    { status: found.status, encoding: found.encoding, etag: found.etag },
    { status: stored.status, encoding: stored.encoding, etag: stored.etag },
    `${what}: status, encoding and etag`
  )
  t.ok(Buffer.isBuffer(found.body) && found.body.equals(stored.body), `${what}: the same ${stored.body.length} bytes`)
}

/** One view of each route: five hash tags, so five slots on a cluster. */
function viewsOf (keys: Keyspace): View[] {
  const { views } = keys
  return [views.events(PAGE), views.event(1), views.eventGuests(1, PAGE), views.guests(PAGE), views.guest(2)]
}

async function lookup (store: ContractStore, key: string, view: View): Promise<Lookup> {
  return await store.lookup(key, view.dependsOn)
}

/** Looks a view up and fills it under the stamp read: how the cache fills on a miss. */
async function filled (store: ContractStore, view: View, text: string, life: EntryLife = LONG) {
  const entries = representationsOf(view, text)
  const stamp = stampOf(await lookup(store, view.key, view))
  const stored = await store.fill(entries, view.dependsOn, stamp, life, true)
  return { entries, stored }
}

export function storeContract (t: Test, name: string, site: SiteMaker): void {
  t.test(name, async (t) => {
    t.test('a miss, a fill under its stamp, then a hit with the same bytes in each representation', async (t) => {
      const { prefix, open, shared } = await site(t)
      const store = await open()
      const keys = keyspace(prefix)
      const view = keys.views.eventGuests(1, PAGE)
      const miss = await lookup(store, view.key, view)
      t.ok(isMiss(miss), 'nothing stored yet')
      t.type(stampOf(miss), 'string')

      const entries = representationsOf(view, 'guests of 1')
      const before = Date.now()
      t.equal(await store.fill(entries, view.dependsOn, stampOf(miss), LONG, true), true, 'stored')
      for (const { key, response } of entries) {
        const found = await lookup(store, key, view)
        assertSameResponse(t, hitOf(found), response, `${response.encoding} hit`)
        t.equal(expiredOf(found), undefined, 'a hit is not also expired')
      }

      const notFound = keys.views.event(404)
      const [negative] = representationsOf(notFound, 'not found', 404)
      const stamp = stampOf(await lookup(store, notFound.key, notFound))
      t.equal(await store.fill([negative!], notFound.dependsOn, stamp, LONG, true), true)
      assertSameResponse(t, hitOf(await lookup(store, notFound.key, notFound)), negative!.response, 'a 404')

      const other = await open()
      const elsewhere = await lookup(other, view.key, view)
      if (!shared) {
        t.ok(isMiss(elsewhere), 'another instance has a store of its own')
        return
      }
      assertSameResponse(t, hitOf(elsewhere), entries[0]!.response, 'another instance reads the fill')
      const { storedAt, expiresAt } = timesOf(elsewhere)
      t.ok(storedAt !== undefined && storedAt >= before && storedAt <= Date.now(), 'stored when filled')
      t.equal(expiresAt! - storedAt!, LONG.ttlMs, 'expires ttlMs after it was stored')
    })

    t.test('a fenced fill is refused once one of its generations changed; unfenced it is stored, ' +
      'valid under the generations current at the fill', async (t) => {
      const { prefix, open } = await site(t)
      const store = await open()
      const view = keyspace(prefix).views.eventGuests(1, PAGE)
      const entries = representationsOf(view, 'old rows')
      const [first, second] = view.dependsOn as [string, string]

      // Read before either generation exists: a store that creates them at the fill must still see the change.
      const stamp = stampOf(await lookup(store, view.key, view))
      await store.invalidate([second])
      t.equal(await store.fill(entries, view.dependsOn, stamp, LONG, true), false, 'fenced: refused')
      t.ok(isMiss(await lookup(store, view.key, view)), 'nothing stored')

      t.equal(await store.fill(entries, view.dependsOn, stamp, LONG, false), true, 'unfenced: stored')
      assertSameResponse(t, hitOf(await lookup(store, view.key, view)), entries[0]!.response,
        'unfenced, a fill under an old stamp is a hit (the race the fence closes)')
      await store.invalidate([first])
      t.ok(isMiss(await lookup(store, view.key, view)), 'and dies at the next change of a generation')

      // Read once the generations exist.
      const current = stampOf(await lookup(store, view.key, view))
      await store.invalidate([first])
      t.equal(await store.fill(entries, view.dependsOn, current, LONG, true), false, 'refused again')
      const fresh = stampOf(await lookup(store, view.key, view))
      t.not(fresh, current, 'the stamp changes with a generation')
      t.equal(await store.fill(entries, view.dependsOn, fresh, LONG, true), true, 'a stamp read after it is stored')
      t.ok(hitOf(await lookup(store, view.key, view)))
    })

    t.test('an expired entry is kept for its grace, as expired with its bytes; then nothing', async (t) => {
      const { prefix, open } = await site(t)
      const store = await open()
      const { views } = keyspace(prefix)
      const view = views.event(1)
      const life = { ttlMs: 60, graceMs: 400 }
      const before = Date.now()
      const { entries, stored } = await filled(store, view, 'kept', life)
      t.equal(stored, true)

      await until('the entry past its TTL', async () => !hitOf(await lookup(store, view.key, view)), { everyMs: 5 })
      const expired = await lookup(store, view.key, view)
      t.ok(Date.now() >= before + life.ttlMs, 'not before its TTL')
      t.equal(hitOf(expired), undefined, 'no response')
      assertSameResponse(t, expiredOf(expired), entries[0]!.response, 'in its grace, expired')
      t.ok(timesOf(expired).storedAt! >= before, 'with when it was stored (the Age of a STALE answer)')
      assertSameResponse(t, expiredOf(await lookup(store, entries[1]!.key, view)), entries[1]!.response,
        'every representation')

      await until('the entry past its grace', async () => isMiss(await lookup(store, view.key, view)), { everyMs: 5 })
      t.ok(Date.now() >= before + life.ttlMs + life.graceMs, 'not before its grace ends')

      const invalidated = views.event(2)
      t.equal((await filled(store, invalidated, 'invalidated', life)).stored, true)
      await until('the other entry past its TTL', async () => !hitOf(await lookup(store, invalidated.key, invalidated)))
      await store.invalidate(invalidated.dependsOn)
      t.ok(isMiss(await lookup(store, invalidated.key, invalidated)), 'an invalidated entry is not kept, even in grace')

      const graceless = views.event(3)
      t.equal((await filled(store, graceless, 'graceless', { ttlMs: 30 })).stored, true)
      await until('the graceless entry past its TTL', async () => !hitOf(await lookup(store, graceless.key, graceless)))
      // Redis keeps an entry until its PX, counted from when Redis ran the fill: see redis-store.test.ts.
      t.ok(isMiss(await lookup(store, graceless.key, graceless)), 'without graceMs, nothing past the TTL')
    })

    t.test('a hit past refreshMs is refreshDue, with refreshAt; one without refreshMs never is', async (t) => {
      const { prefix, open } = await site(t)
      const store = await open()
      const { views } = keyspace(prefix)
      const refreshed = views.event(1)
      const plain = views.event(2)
      const life = { ttlMs: 60_000, refreshMs: 300 }
      const before = Date.now()
      t.equal((await filled(store, refreshed, 'refreshed', life)).stored, true)
      t.equal((await filled(store, plain, 'plain')).stored, true)
      const early = refreshOf(await lookup(store, refreshed.key, refreshed))
      t.ok(!early.due || Date.now() >= before + life.refreshMs, 'not due before its refresh point')

      // The hit that finds it due, kept: a tiered store's next hit may be an L1 copy, which never is.
      let due: Lookup | undefined
      await until('a hit due for a refresh', async () => {
        const found = await lookup(store, refreshed.key, refreshed)
        if (refreshOf(found).due) due = found
        return due !== undefined
      }, { everyMs: 5 })
      assertSameResponse(t, hitOf(due!), representationsOf(refreshed, 'refreshed')[0]!.response, 'still a hit')
      const { at } = refreshOf(due!)
      const { storedAt } = timesOf(due!)
      t.equal(at! - storedAt!, life.refreshMs, 'refreshAt is refreshMs after the fill')
      t.ok(at! <= Date.now(), 'and has passed')
      t.notOk(refreshOf(await lookup(store, plain.key, plain)).due, 'a fill without refreshMs is not due')
    })

    t.test('a database change (changeId) changes each generation once, however many instances apply it', async (t) => {
      const { prefix, open, shared } = await site(t)
      const [a, b] = [await open(), await open()]
      const keys = keyspace(prefix)
      // Four generations, four slots on a cluster.
      const generations = keys.invalidations.eventChanged(1, [2])
      const initial = await generationValues(a, generations)
      await a.invalidate(generations, 'change-1')
      const once = await generationValues(a, generations)
      once.forEach((value, i) => t.not(value, initial[i], `${generations[i]} changed`))

      if (!shared) {
        // One process, one listener: it hears each change once, and no other instance shares its store.
        t.same(await generationValues(b, generations), initial, 'another instance\'s store is its own')
        await a.invalidate(generations, 'change-1')
        const again = await generationValues(a, generations)
        again.forEach((value, i) => t.not(value, once[i], `${generations[i]}: every call changes it, id or not`))
        return
      }
      t.same(await generationValues(b, generations), once, 'every instance reads the new values')
      const view = keys.views.event(1)
      const { entries, stored } = await filled(b, view, 'filled between the two')
      t.equal(stored, true)
      await b.invalidate(generations, 'change-1')
      t.same(await generationValues(a, generations), once, 'the same change from another instance changes nothing')
      assertSameResponse(t, hitOf(await lookup(a, view.key, view)), entries[0]!.response,
        'so what was filled after the first survives the second')

      await b.invalidate(generations, 'change-2')
      const next = await generationValues(a, generations)
      next.forEach((value, i) => t.not(value, once[i], `${generations[i]}: another change changes it again`))
      await a.invalidate(generations.slice(0, 1))
      await b.invalidate(generations.slice(0, 1))
      const plain = await generationValues(a, generations.slice(0, 1))
      t.not(plain[0], next[0], 'without a changeId every invalidation changes it')
    })

    t.test('a lease is taken once, until it expires (shared stores only)', async (t) => {
      const { prefix, open, shared } = await site(t)
      const [a, b] = [await open(), await open()]
      if (!shared) {
        t.equal(a.lease, undefined, 'a store no other instance shares has no lease')
        return
      }
      const view = keyspace(prefix).views.event(1)
      const key = leaseKey(view)
      const ms = 200
      const before = Date.now()
      t.equal(await a.lease!(key, 's1', ms), true, 'the first caller gets it')
      t.equal(await b.lease!(key, 's1', ms), false, 'another instance does not')
      t.equal(await a.lease!(key, 's1', ms), false, 'nor does its holder, twice')
      t.equal(await b.lease!(key, 's2', ms), true, 'a lease is for one stamp: another stamp\'s is free')
      await until('the lease expired', async () => await b.lease!(key, 's1', ms), { withinMs: 2_000, everyMs: 5 })
      t.ok(Date.now() >= before + ms, `free again after its ${ms} ms, not before`)
    })

    t.test('a flush deletes the entries its pattern matches in its own prefix: ' +
      'never another prefix\'s, a generation or a lease', async (t) => {
      const { prefix, open, shared } = await site(t)
      const store = await open()
      // A prefix that begins like this one: a pattern must not reach past the namespace's separator.
      const [mine, theirs] = [keyspace(prefix), keyspace(`${prefix}-b`)]
      const all = [...viewsOf(mine), ...viewsOf(theirs)]
      const entries = new Map<string, StoredEntry[]>()
      for (const view of all) {
        const fill = await filled(store, view, view.key)
        t.equal(fill.stored, true)
        entries.set(view.key, fill.entries)
      }
      const generations = [...new Set(all.flatMap((view) => view.dependsOn))]
      const values = await generationValues(store, generations)
      const leases = shared ? all.slice(0, 2).map(leaseKey) : []
      for (const key of leases) t.equal(await store.lease!(key, 's', 60_000), true)
      const found = async (view: View, key: string) => hitOf(await lookup(store, key, view)) !== undefined
      const stillThere = async (views: View[], what: string) => {
        for (const view of views) {
          for (const { key } of entries.get(view.key)!) t.ok(await found(view, key), `${what}: ${key} still there`)
        }
      }

      const event = mine.views.event(1)
      const pattern = (route: string) => mine.namespaces.find((namespace) => namespace.route === route)!.pattern
      t.equal(await flush(store, pattern('GET /events/:id')), 1, 'one entry: the event\'s identity representation')
      t.notOk(await found(event, event.key), 'flushed')
      t.ok(await found(event, encodedKey(event.key, 'br')), 'its brotli representation has a pattern of its own')
      await stillThere(viewsOf(mine).filter((view) => view.key !== event.key), 'another namespace')
      await stillThere(viewsOf(theirs), 'another prefix')

      let flushed = 0
      for (const { pattern } of mine.namespaces) {
        for (const encoding of ['identity', 'br'] as const) flushed += await flush(store, encodedKey(pattern, encoding))
      }
      t.equal(flushed, viewsOf(mine).length * 2 - 1, 'every other entry of this prefix, in each representation')
      for (const view of viewsOf(mine)) {
        for (const { key } of entries.get(view.key)!) t.notOk(await found(view, key), `${key} flushed`)
      }
      await stillThere(viewsOf(theirs), 'another prefix')
      t.same(await generationValues(store, generations), values, 'no generation flushed')
      for (const key of leases) t.equal(await store.lease!(key, 's', 60_000), false, `${key} still held`)
    })

    t.test('generation values come back in the order asked, \'\' for a generation that does not exist', async (t) => {
      const { prefix, open } = await site(t)
      const store = await open()
      const keys = keyspace(prefix)
      // Three slots on a cluster, so the answers are put back together from several nodes.
      const [one, two, three] = [keys.views.event(1), keys.views.guests(PAGE), keys.views.guest(3)]
        .map((view) => view.dependsOn[0]!) as [string, string, string]
      const unknown = keys.views.event(9).dependsOn[0]!
      const valueAfterChanging = async (generation: string) => {
        await store.invalidate([generation])
        return (await generationValues(store, [generation]))[0]!
      }
      const v1 = await valueAfterChanging(one)
      const v2 = await valueAfterChanging(two)
      const v3 = await valueAfterChanging(three)
      t.equal(new Set([v1, v2, v3]).size, 3, 'each its own value')
      const [a, missing, b, c] = await generationValues(store, [three, unknown, one, two])
      t.same([a, b, c], [v3, v1, v2], 'in the order asked')
      // MemoryStore answers its floor (String(0) in a fresh store): a counter it never had, or dropped.
      t.equal(missing, '', 'a generation that does not exist')
    })

    t.test('inspect: a stored key\'s remaining life and size; undefined for a key with nothing stored', async (t) => {
      const { prefix, open } = await site(t)
      const store = await open()
      const { views } = keyspace(prefix)
      const view = views.event(1)
      const { entries } = await filled(store, view, 'inspected')
      for (const { key, response } of entries) {
        const found = await inspect(store, key)
        t.ok(found && found.ttlMs > 0 && found.ttlMs <= LONG.ttlMs, `${key}: its TTL left (${found?.ttlMs} ms)`)
        // The memory store counts the body, the Redis store the stored string (its header line and the body).
        t.ok(found && found.bytes >= response.body.length && found.bytes < response.body.length + 200,
          `${key}: its size (${found?.bytes} bytes for a ${response.body.length}-byte body)`)
      }
      t.equal(await inspect(store, views.event(2).key), undefined, 'nothing stored')
      const short = views.event(3)
      await filled(store, short, 'short', { ttlMs: 30 })
      await until('the short entry gone from inspect', async () => await inspect(store, short.key) === undefined)
      t.pass('undefined once its TTL has run out')
    })
  })
}
