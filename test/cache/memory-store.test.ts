import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { etagOf } from '../../src/cache/http/etag.ts'
import { MemoryStore } from '../../src/cache/stores/memory-store.ts'
import type { CachedResponse, Lookup } from '../../src/cache/stores/store.ts'

/** One identity entry: what a fill of a response too small to compress stores. */
const entry = (key: string, text: string) => [{ key, response: response(text) }]
const response = (text: string, status = 200) => {
  return { status, encoding: 'identity' as const, etag: etagOf(Buffer.from(text)), body: Buffer.from(text) }
}

/** The response of a hit, or undefined. */
function hitOf (lookup: Lookup): CachedResponse | undefined {
  return lookup.state === 'hit' ? lookup.response : undefined
}

t.test('memory store: generations, fence, expiry', async (t) => {
  const store = new MemoryStore({ maxBytes: 1_000_000, maxEntries: 100 })
  const first = store.lookup('k', ['g'])
  t.same(first, { state: 'miss', stamp: '0' })
  t.equal(store.fill(entry('k', 'a'), ['g'], first.stamp, { ttlMs: 60_000 }, true), true)
  t.equal(hitOf(store.lookup('k', ['g']))?.body.toString(), 'a')

  store.invalidate(['g'])
  t.same(store.lookup('k', ['g']), { state: 'miss', stamp: '1' }, 'a new generation kills the entry')
  t.equal(store.fill(entry('k', 'stale'), ['g'], '0', { ttlMs: 60_000 }, true), false,
    'fenced: a fill stamped before the bump is refused')
  t.equal(store.fill(entry('k', 'stale'), ['g'], '0', { ttlMs: 60_000 }, false), true, 'unfenced it lands…')
  t.equal(hitOf(store.lookup('k', ['g']))?.body.toString(), 'stale', '…as current (the race the fence closes)')

  t.equal(store.fill(entry('short', 'x'), ['h'], '0', { ttlMs: 20 }, true), true)
  await sleep(40)
  t.equal(hitOf(store.lookup('short', ['h'])), undefined, 'expired')
})

t.test('memory store: bounded in entries and bytes, least recently used goes first', async (t) => {
  const store = new MemoryStore({ maxBytes: 1_000_000, maxEntries: 3 })
  for (const key of ['a', 'b', 'c']) store.fill(entry(key, key), ['g'], '0', { ttlMs: 60_000 }, true)
  store.lookup('a', ['g']) // a is now the most recently used
  store.fill(entry('d', 'd'), ['g'], '0', { ttlMs: 60_000 }, true)
  t.same(['a', 'b', 'c', 'd'].map((key) => hitOf(store.lookup(key, ['g'])) !== undefined), [true, false, true, true])
  t.equal(store.size.entries, 3)

  const small = new MemoryStore({ maxBytes: 2_000, maxEntries: 100 })
  small.fill(entry('big', 'x'.repeat(5_000)), ['g'], '0', { ttlMs: 60_000 }, true)
  t.equal(small.size.entries, 0, 'an entry larger than the whole cache is not stored')
  for (let i = 0; i < 10; i++) small.fill(entry(`k${i}`, 'x'.repeat(500)), ['g'], '0', { ttlMs: 60_000 }, true)
  t.ok(small.size.bytes <= 2_000, `bytes stay under the bound (${small.size.bytes})`)
  t.ok(hitOf(small.lookup('k9', ['g'])), 'the newest survives')
  t.notOk(hitOf(small.lookup('k0', ['g'])), 'the oldest went')
})

t.test('memory store: an entry read between fills is never evicted, however many entries pass through', async (t) => {
  // A hit moves an entry to the end of the recency order only once it has left the newer half, so a
  // busy entry must still never reach the front, and the others must still leave oldest first.
  const store = new MemoryStore({ maxBytes: 10_000_000, maxEntries: 50 })
  const life = { ttlMs: 60_000 }
  store.fill(entry('hot', 'h'), ['g'], '0', life, true)
  let missed = 0
  for (let i = 0; i < 1_000; i++) {
    if (hitOf(store.lookup('hot', ['g'])) === undefined) missed++
    store.fill(entry(`k${i}`, 'k'), ['g'], '0', life, true)
  }
  t.equal(missed, 0, 'the entry read between fills was there every time')
  t.equal(store.size.entries, 50)
  const kept = Array.from({ length: 1_000 }, (_, i) => `k${i}`).filter((key) => hitOf(store.lookup(key, ['g'])))
  t.same(kept, Array.from({ length: 49 }, (_, i) => `k${951 + i}`), 'the others went oldest first')
})
