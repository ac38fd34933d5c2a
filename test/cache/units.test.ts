import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { CircuitBreaker, type BreakerState } from '../../src/cache/circuit-breaker.ts'
import { ShardBreakers } from '../../src/cache/shard-breakers.ts'
import { codedEtag, etagOf, matchesIfNoneMatch } from '../../src/cache/http.ts'
import { MemoryStore } from '../../src/cache/memory-store.ts'
import type { CachedResponse, Lookup } from '../../src/cache/store.ts'
import { FreshFlight, SingleFlight } from '../../src/cache/single-flight.ts'
import { keyspace, leaseKey } from '../../src/cache/views.ts'

/** One identity entry: what a fill of a response too small to compress stores. */
const entry = (key: string, text: string) => [{ key, response: response(text) }]
const response = (text: string, status = 200) => {
  return { status, encoding: 'identity' as const, etag: etagOf(Buffer.from(text)), body: Buffer.from(text) }
}

t.test('keys: namespaced, versioned, from numbers only, each sharing a hash tag with its generations', async (t) => {
  const { views, invalidations } = keyspace('ec')
  const page = { limit: 100, offset: 0 }
  const all = [views.events(page), views.event(7), views.eventGuests(7, page), views.guests(page), views.guest(9)]
  for (const view of all) {
    t.match(view.key, /^ec:v2:\{[^}]+\}/, view.route)
    const tag = /\{[^}]+\}/.exec(view.key)![0]
    t.ok(view.dependsOn.every((generation) => generation.includes(tag)), `${view.route}: same slot as its generations`)
    t.notMatch(view.route, /\d/, 'route names carry no ids')
  }
  t.equal(views.events({ limit: 5, offset: 10 }).key, 'ec:v2:{events}:l5:o10')
  t.not(views.events({ limit: 5, offset: 10 }).key, views.events({ limit: 10, offset: 5 }).key)
  t.same(views.eventGuests(7, page).dependsOn, ['ec:v2:{e:7}:gen', 'ec:v2:{e:7}:guests-gen'])
  t.same(keyspace('other').views.event(7).key, 'other:v2:{e:7}', 'the prefix isolates deployments and tests')

  t.same(invalidations.eventCreated(3), ['ec:v2:{events}:gen', 'ec:v2:{e:3}:gen'])
  t.same(invalidations.eventChanged(3, [10, 11]),
    ['ec:v2:{events}:gen', 'ec:v2:{e:3}:gen', 'ec:v2:{guests}:gen', 'ec:v2:{g:10}:gen', 'ec:v2:{g:11}:gen'])
  t.same(invalidations.guestCreated(10, 3), ['ec:v2:{guests}:gen', 'ec:v2:{g:10}:gen', 'ec:v2:{e:3}:guests-gen'])
  t.same(invalidations.guestChanged(10, [3, 4]),
    ['ec:v2:{guests}:gen', 'ec:v2:{g:10}:gen', 'ec:v2:{e:3}:guests-gen', 'ec:v2:{e:4}:guests-gen'])
  t.same(invalidations.guestChanged(10, [3, 3]),
    ['ec:v2:{guests}:gen', 'ec:v2:{g:10}:gen', 'ec:v2:{e:3}:guests-gen'], 'no move: one event')
})

t.test('keys: a flush pattern matches its own entries, never a lease or a generation', async (t) => {
  const { views, namespaces } = keyspace('ec')
  const page = { limit: 100, offset: 0 }
  const all = [views.events(page), views.event(7), views.eventGuests(7, page), views.guests(page), views.guest(9)]
  // Redis's glob, as the flush uses it: `*` is the only wildcard in these patterns.
  const escape = (part: string) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const matches = (pattern: string, key: string) =>
    new RegExp(`^${pattern.split('*').map(escape).join('.*')}$`).test(key)
  const tagOf = (key: string) => /\{[^}]+\}/.exec(key)![0]
  for (const view of all) {
    const flushedBy = namespaces.filter(({ pattern }) => matches(pattern, view.key)).map(({ route }) => route)
    t.same(flushedBy, [view.route], `${view.key}: its own namespace only`)
    t.equal(tagOf(leaseKey(view)), tagOf(view.key), `${view.route}: its lease shares its slot`)
    for (const key of [leaseKey(view), ...view.dependsOn]) {
      t.notOk(namespaces.some(({ pattern }) => matches(pattern, key)), `${key} is never flushed`)
    }
  }
})

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

t.test('single-flight: one execution per key at a time; failures are shared and forgotten', async (t) => {
  const flights = new SingleFlight<number>()
  let runs = 0
  const work = async () => { runs++; await sleep(20); return 42 }
  const results = await Promise.all([flights.run('k', work), flights.run('k', work), flights.run('other', work)])
  t.equal(runs, 2)
  t.same(results.map((r) => r.value), [42, 42, 42])
  t.same(results.map((r) => r.shared), [false, true, false])
  t.equal(flights.size, 0)

  const failing = async () => { runs++; await sleep(10); throw new Error('boom') }
  const failures = await Promise.allSettled([flights.run('f', failing), flights.run('f', failing)])
  t.ok(failures.every((result) => result.status === 'rejected' && (result.reason as Error).message === 'boom'))
  t.equal(runs, 3, 'the failure ran once')
  t.same(await flights.run('f', work), { value: 42, shared: false }, 'and is not remembered')
})

t.test('fresh flight: a caller shares only an execution that began after it came, one at a time per key', async (t) => {
  const flights = new FreshFlight<number>()
  let version = 0
  let running = 0
  let most = 0
  // What the work reads is taken when it begins, and answered later: a load's snapshot, then its rows.
  const work = async () => {
    running++
    most = Math.max(most, running)
    const read = version
    await sleep(30)
    running--
    return read
  }
  const first = flights.run('k', work)
  await sleep(5)
  version = 1 // a write, acknowledged while the first execution runs
  const later = [flights.run('k', work), flights.run('k', work)]
  const results = await Promise.all([first, ...later])
  t.same(results.map((result) => result.value), [0, 1, 1], 'callers after the write get what it wrote')
  t.same(results.map((result) => result.shared), [false, false, true], 'the later two share the next execution')
  t.equal(most, 1, 'never two executions of one key at once')
  t.equal(flights.size, 0)
  const together = await Promise.all([flights.run('k', work), flights.run('k', work)])
  t.same(together.map((result) => result.shared), [false, true], 'callers arriving together share one')

  const failing = async () => { await sleep(10); throw new Error('boom') }
  const failed = flights.run('f', failing)
  await sleep(1)
  const after = flights.run('f', work)
  await t.rejects(failed, /boom/)
  t.same(await after, { value: 1, shared: false }, 'the next runs after a failure, and is not the failure')
  t.equal(flights.size, 0)
})

t.test('circuit breaker: opens after consecutive failures, probes in the background, closes on success', async (t) => {
  const changes: BreakerState[] = []
  let probeOk = false
  let probes = 0
  const breaker = new CircuitBreaker({
    threshold: 3,
    cooldownMs: 20,
    maxCooldownMs: 80,
    probe: async () => { probes++; if (!probeOk) throw new Error('still down') },
    onChange: (state) => changes.push(state)
  })
  t.teardown(() => breaker.dispose())
  breaker.failure(new Error('1'))
  breaker.failure(new Error('2'))
  breaker.success()
  breaker.failure(new Error('3'))
  t.equal(breaker.state, 'closed', 'a success resets the count')
  breaker.failure(new Error('4'))
  breaker.failure(new Error('5'))
  t.equal(breaker.state, 'open')
  await sleep(100)
  t.ok(probes >= 2, 'probes while down, backing off')
  t.equal(breaker.state, 'open')
  probeOk = true
  await sleep(200)
  t.equal(breaker.state, 'closed')
  t.same(changes, ['open', 'closed'], 'one transition each way')
})

t.test('shard breakers: one per shard, opened and probed on their own', async (t) => {
  const down = new Set(['b'])
  const probed: string[] = []
  const changes: string[] = []
  const breakers = new ShardBreakers({
    threshold: 2,
    cooldownMs: 10,
    maxCooldownMs: 20,
    shardOf: (key) => key.split(':')[0]!,
    probe: async (shard) => { probed.push(shard); if (down.has(shard)) throw new Error(`${shard} down`) },
    onChange: (shard, state) => changes.push(`${shard} ${state}`)
  })
  t.teardown(() => breakers.dispose())
  t.equal(breakers.for('a:1'), breakers.for('a:2'), 'keys of one shard share its breaker')
  t.not(breakers.for('a:1'), breakers.for('b:1'))
  breakers.for('b:1').failure(new Error('1'))
  breakers.for('b:2').failure(new Error('2'))
  t.same(breakers.open, ['b'], 'failures on one shard open only its breaker')
  t.equal(breakers.for('a:3').isOpen, false)
  await sleep(60)
  t.ok(probed.length >= 2 && probed.every((shard) => shard === 'b'),
    `only the open shard is probed (${probed.join(', ')})`)
  down.clear()
  await sleep(60)
  t.same(breakers.open, [])
  t.same(changes, ['b open', 'b closed'])
})

t.test('ETag and If-None-Match', async (t) => {
  const etag = etagOf(Buffer.from('{"a":1}'))
  t.match(etag, /^"[\w-]{27}"$/)
  t.equal(etagOf(Buffer.from('{"a":1}')), etag, 'deterministic')
  t.not(etagOf(Buffer.from('{"a":2}')), etag)
  t.ok(matchesIfNoneMatch(etag, etag))
  t.ok(matchesIfNoneMatch(`W/${etag}`, etag))
  t.ok(matchesIfNoneMatch(`"x", ${etag}`, etag))
  t.ok(matchesIfNoneMatch('*', etag))
  t.notOk(matchesIfNoneMatch('"x"', etag))
  t.notOk(matchesIfNoneMatch(undefined, etag))
  t.equal(codedEtag(etag, 'identity'), etag)
  t.equal(codedEtag(etag, 'br'), `${etag.slice(0, -1)}.br"`, 'a coding\'s tag: the content\'s, the coding named')
  t.not(codedEtag(etag, 'gzip'), codedEtag(etag, 'br'))
  t.notOk(matchesIfNoneMatch(codedEtag(etag, 'br'), etag), 'each coding is a representation of its own')
})
