import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createRedisClient } from '../../src/redis/client.ts'
import { usable } from '../../src/redis/usable.ts'
import { loadConfig } from '../../src/config.ts'
import { CACHE_FORMAT_VERSION, keyspace } from '../../src/cache/views.ts'
import { groupByHashTag, hashedPart, parseClusterNodes, slotOf } from '../../src/redis/cluster.ts'
import { buildTestApp, logCollector, type TestApp } from '../support/app.ts'
import { cacheEnv } from '../support/cache-modes.ts'
import { readLog, waitForHit } from '../support/cache-reads.ts'
import { createTestDatabase } from '../support/database.ts'
import { eventInput, postEvent, postGuest } from '../support/fixtures.ts'
import {
  keySlot, masterOf, onNode, portOf, shards, startRedisCluster, testClusterNodes
} from '../support/redis-cluster.ts'
import { until } from '../support/waiting.ts'

// The Redis store on a real three-master Redis Cluster (test/support/redis-cluster.ts): what only a cluster
// can get wrong. The whole cache suite also runs on it ('cluster' in CACHE_TEST_MODES).

/** Every key matching `pattern` on one server (SCAN, as the panel's flush walks it). */
async function keysOn (address: string, pattern: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await onNode(address, 'SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000) as [string, string[]]
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys
}

async function entriesPerMaster (nodes: string, pattern: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const { address } of await shards(nodes)) counts[address] = (await keysOn(address, pattern)).length
  return counts
}

function total (perMaster: Record<string, number>): number {
  return Object.values(perMaster).reduce((sum, count) => sum + count, 0)
}

t.test('slot grouping follows the cluster\'s hash tag rule', async (t) => {
  t.equal(hashedPart('ec:v1:{e:7}:gen'), 'e:7')
  t.equal(hashedPart('a{b}{c}'), 'b', 'the first tag only')
  t.equal(hashedPart('a{}{c}'), 'a{}{c}', 'an empty tag hashes the whole key')
  t.equal(hashedPart('a{b'), 'a{b', 'an unclosed tag hashes the whole key')
  t.equal(hashedPart('plain'), 'plain')
  const keys = ['x:{e:1}:gen', 'x:{events}:gen', 'x:{e:1}:guests-gen', 'x:{g:2}:gen']
  t.same(groupByHashTag(keys), [[0, 2], [1], [3]], 'positions, grouped, in order')
  t.same(parseClusterNodes('127.0.0.1:7000,redis-b:7001'), [
    { host: '127.0.0.1', port: 7000 },
    { host: 'redis-b', port: 7001 }
  ])
  t.throws(() => parseClusterNodes('127.0.0.1:70000'), /out of range/)
})

t.test('keys of one view land in one slot (CLUSTER KEYSLOT); a write\'s generations span several', async (t) => {
  const nodes = await testClusterNodes()
  const { views, invalidations } = keyspace('ec')
  const page = { limit: 100, offset: 0 }
  const eventGuests = views.eventGuests(7, { limit: 5, offset: 10 })
  for (const view of [views.events(page), views.event(7), eventGuests, views.guests(page), views.guest(9)]) {
    const slots = new Set(await Promise.all([view.key, ...view.dependsOn].map((key) => keySlot(nodes, key))))
    const its = `the entry and its ${view.dependsOn.length} generation(s)`
    t.equal(slots.size, 1, `${view.route}: ${its} in slot ${[...slots][0]}`)
  }
  const keys = [
    views.event(7).key,
    views.guest(9).key,
    'no tag',
    '{}empty tag',
    '{ünïcode} tag',
    ...invalidations.eventChanged(3, [10, 11])
  ]
  for (const key of keys) t.equal(slotOf(key), await keySlot(nodes, key), `slotOf(${key}) is Redis's CLUSTER KEYSLOT`)
  const generations = invalidations.eventChanged(3, [10, 11])
  const slots = new Set(await Promise.all(generations.map((key) => keySlot(nodes, key))))
  t.equal(slots.size, generations.length,
    'PATCH /events/3 with two guests changes generations in 5 slots: the reason invalidate() pipelines per slot')
  const owners = new Set(await Promise.all(generations.map((key) => masterOf(nodes, key))))
  t.ok(owners.size > 1, `on ${owners.size} masters`)
})

t.test('entries spread over every master, and a write invalidates across slots (read-your-writes)', async (t) => {
  const nodes = await testClusterNodes()
  const database = await createTestDatabase(t)
  const cache = await cacheEnv(t, 'cluster')
  const env = { ...cache, DATABASE_URL: database }
  const [a, b] = [await buildTestApp(t, env), await buildTestApp(t, env)]
  const events = []
  for (let i = 0; i < 12; i++) events.push(await postEvent(a, { name: `event ${i}` }))
  const target = events[0]!
  const guests = [await postGuest(a, target.id, { name: 'g1' }), await postGuest(a, target.id, { name: 'g2' })]

  const guestUrls = guests.map(({ id }) => `/guests/${id}`)
  const eventUrls = events.map(({ id }) => `/events/${id}`)
  const urls = ['/events', '/guests', ...eventUrls, `/events/${target.id}/guests`, ...guestUrls]
  for (const url of urls) await a.inject(url)
  for (const url of urls) {
    t.equal((await b.inject(url)).headers['x-cache'], 'HIT', `${url}: filled by one instance, a hit on the other`)
  }

  const perMaster = await entriesPerMaster(nodes, `${cache.CACHE_PREFIX}:*`)
  t.ok(Object.keys(perMaster).length > 1, 'more than one master')
  t.ok(Object.values(perMaster).every((count) => count > 0), `keys on every master: ${JSON.stringify(perMaster)}`)

  const patched = await a.inject({ method: 'PATCH', url: `/events/${target.id}`, payload: { name: 'renamed' } })
  t.equal(patched.statusCode, 200)
  const changed = a.cache.keys.invalidations.eventChanged(target.id, guests.map(({ id }) => id))
  const owners = new Set(await Promise.all(changed.map((key) => masterOf(nodes, key))))
  t.comment(`the PATCH changed ${changed.length} generations on ${owners.size} masters`)
  t.ok(owners.size > 1, 'its invalidation crossed masters')

  const affected = ['/events', '/guests', `/events/${target.id}`, `/events/${target.id}/guests`, ...guestUrls]
  for (const url of affected) {
    const response = await b.inject(url)
    t.equal(response.headers['x-cache'], 'MISS', `${url}: dropped on the other instance too`)
    t.match(response.body, /renamed/, `${url}: the new name`)
  }
  t.equal((await b.inject(`/events/${events[1]!.id}`)).headers['x-cache'], 'HIT', 'an unrelated event stays cached')
})

t.test('the panel\'s flush empties a route\'s entries on every master and leaves the others', async (t) => {
  const nodes = await testClusterNodes()
  const env = await cacheEnv(t, 'cluster')
  const app = await buildTestApp(t, env)
  const ids = []
  for (let i = 0; i < 12; i++) ids.push((await postEvent(app)).id)
  const lists = ['/events', '/events?limit=5', '/events?limit=5&offset=5', '/guests']
  const urls = [...lists, ...ids.map((id) => `/events/${id}`)]
  for (const url of urls) await app.inject(url)
  const ns = `${env.CACHE_PREFIX}:v${CACHE_FORMAT_VERSION}`
  // Views live under the keyspace's epoch (set when the database-change listener connects).
  const views = app.cache.keys.epoch === '' ? ns : `${ns}:${app.cache.keys.epoch}`

  const details = await entriesPerMaster(nodes, `${views}:{e:*}`)
  t.ok(Object.values(details).every((count) => count > 0),
    `event details on every master before: ${JSON.stringify(details)}`)
  t.equal(total(await entriesPerMaster(nodes, `${views}:br:{e:*}`)), ids.length, 'each detail has a br key too')
  const detailFlush = await app.inject({ method: 'POST', url: '/_cache/flush', payload: { route: 'GET /events/:id' } })
  t.same(detailFlush.json(), { route: 'GET /events/:id', flushed: ids.length })
  t.same(Object.values(await entriesPerMaster(nodes, `${views}:{e:*}`)), [0, 0, 0], 'none left on any master')
  for (const encoding of ['br', 'gzip']) {
    t.equal(total(await entriesPerMaster(nodes, `${views}:${encoding}:{e:*}`)), 0, `no ${encoding} representation left`)
  }

  const listFlush = await app.inject({ method: 'POST', url: '/_cache/flush', payload: { route: 'GET /events' } })
  t.same(listFlush.json(), { route: 'GET /events', flushed: 3 })
  const listPages = Object.values(await entriesPerMaster(nodes, `${views}:{events}:l*`))
  t.same(listPages, [0, 0, 0], 'no event list page left on any master')
  t.equal((await app.inject('/events')).headers['x-cache'], 'MISS')
  t.equal((await app.inject(`/events/${ids[0]}`)).headers['x-cache'], 'MISS')
  t.equal((await app.inject('/guests')).headers['x-cache'], 'HIT', 'another route is untouched')
  const generations = total(await entriesPerMaster(nodes, `${ns}:{*}:gen`))
  t.ok(generations > 0, `generations are not entries: kept (${generations})`)
})

t.test('the write rate limit is shared by two instances on the cluster', async (t) => {
  const nodes = await testClusterNodes()
  const database = await createTestDatabase(t)
  const cache = await cacheEnv(t, 'cluster')
  const env = { ...cache, DATABASE_URL: database, RATE_LIMIT_WRITES: '4' }
  const a = await buildTestApp(t, env)
  const b = await buildTestApp(t, env)
  const post = async (app: TestApp) =>
    (await app.inject({ method: 'POST', url: '/events', payload: eventInput() })).statusCode
  for (const app of [a, b, a, b]) t.equal(await post(app), 201)
  t.equal(await post(a), 429, 'four writes across two instances used the budget')
  t.equal(await post(b), 429, 'on both')
  const counters = total(await entriesPerMaster(nodes, `${cache.CACHE_PREFIX}:rate-limit:*`))
  t.equal(counters, 1, 'one counter in the cluster for this client and route')
})

t.test('fresh clients on a healthy cluster are usable without a reconnect (no ready-check race)', async (t) => {
  // ioredis' own ready check could be refused by a node connection still opening, and a refused
  // check drops every connection and starts over: about one fresh client in five (see
  // docs/redis-cluster.md). Each such restart shows as 'reconnecting'.
  const config = loadConfig({
    DATABASE_URL: 'postgres://unused',
    CACHE_MODE: 'redis',
    REDIS_CLUSTER_NODES: await testClusterNodes(),
    REDIS_COMMAND_TIMEOUT_MS: '1000'
  })
  const clients = 30
  let reconnects = 0
  let usableInTime = 0
  for (let i = 0; i < clients; i++) {
    const client = createRedisClient(config)
    client.on('error', () => {})
    client.on('reconnecting', () => { reconnects++ })
    if (await Promise.race([usable(client).then(() => true), sleep(5_000).then(() => false)])) usableInTime++
    client.disconnect()
  }
  t.equal(usableInTime, clients, 'every client usable within 5 s')
  t.equal(reconnects, 0, 'no client started over')
})

t.test('cluster down at start-up: the app boots within about a second, serves BYPASS, ' +
  'and uses the cluster once it is up', async (t) => {
  const cluster = await startRedisCluster(t, { started: false })
  const database = await createTestDatabase(t)
  const started = Date.now()
  const app = await buildTestApp(t, { CACHE_MODE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes, DATABASE_URL: database })
  const bootMs = Date.now() - started
  t.comment(`booted in ${bootMs} ms (migrations included)`)
  t.ok(bootMs < 3_000, 'boot waits for the cluster a second at most')
  await postEvent(app)
  const response = await app.inject('/events')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-cache'], 'BYPASS')
  const flush = await app.inject({ method: 'POST', url: '/_cache/flush', payload: { route: 'GET /events' } })
  t.equal(flush.statusCode, 500, 'the flush fails (not hangs) without a cluster')

  await cluster.start()
  const hitIn = await waitForHit(app, '/events', 15_000)
  t.ok(hitIn < 15_000, `hits ${hitIn} ms after the cluster is up`)
})

t.test('a master killed: only its keys turn to BYPASS (a breaker per master), the other masters\' stay hits; ' +
  'its writes are owed, then replayed', async (t) => {
  const cluster = await startRedisCluster(t)
  const logs = logCollector()
  const env = {
    CACHE_MODE: 'redis',
    REDIS_CLUSTER_NODES: cluster.nodes,
    // Long enough that a busy machine does not turn the live masters' hits into BYPASS: a dead
    // master's commands fail on its lost connection, not on the timeout.
    REDIS_COMMAND_TIMEOUT_MS: '1000',
    LOG_LEVEL: 'info'
  }
  const app = await buildTestApp(t, env, { logStream: logs.stream })
  const invalidations: string[] = []
  app.cache.events.observe({ invalidated: (_request, _generations, result) => invalidations.push(result) })
  const ids: number[] = []
  for (let i = 0; i < 12; i++) ids.push((await postEvent(app, { name: `event ${i}` })).id)
  for (const id of ids) t.ok(await waitForHit(app, `/events/${id}`, 5_000) < 5_000, `event ${id} cached`)
  const owner = new Map<number, string>()
  for (const id of ids) owner.set(id, await masterOf(cluster.nodes, app.cache.keys.views.event(id).key))
  const victim = owner.get(ids[0]!)!
  const [down, up] = [ids.filter((id) => owner.get(id) === victim), ids.filter((id) => owner.get(id) !== victim)]
  t.ok(up.length > 0, `${down.length} events on the master killed, ${up.length} on the other two`)
  t.ok(await waitForHit(app, '/events', 5_000) < 5_000, 'the events list cached too')
  const listGeneration = app.cache.keys.collectionGenerations[0]!
  t.not(await masterOf(cluster.nodes, listGeneration), victim, 'its generation on a master that stays up')
  // Within cluster-node-timeout (15 s here) the other masters go on serving; after it, a cluster
  // requiring full coverage (Redis's default) refuses every key until the master is back.
  await cluster.kill(portOf(victim))

  // A write there first: its invalidation cannot reach the dead master, so it is owed.
  const whileDown = 'written while its master was down'
  const written = await app.inject({ method: 'PATCH', url: `/events/${down[0]}`, payload: { name: whileDown } })
  t.equal(written.statusCode, 200, 'a write on the dead master\'s keys commits')
  t.equal(invalidations.at(-1), 'owed', 'and owes what the dead master did not get')
  // The list's generation lives on a live master, but was owed with the rest of the write's: until
  // it is replayed the list must not be read from the cache.
  const list = await app.inject('/events')
  const listed = list.json().results.find(({ id }: { id: number }) => id === down[0])
  t.equal(listed.name, whileDown, `the events list shows the write (${String(list.headers['x-cache'])})`)

  const names = new Map(ids.map((id, i) => [id, `event ${i}`]))
  names.set(down[0]!, whileDown)
  const reads = { down: readLog(), up: readLog() }
  for (let round = 0; round < 3; round++) {
    for (const id of ids) await (down.includes(id) ? reads.down : reads.up).read(app, `/events/${id}`, names.get(id)!)
  }
  t.comment(`with one master of three dead: its events ${reads.down.summary()}, the others ${reads.up.summary()}`)
  t.same(reads.up.outcomes(), ['200 HIT'], 'the other masters\' events are still hits')
  t.same(reads.down.outcomes(), ['200 BYPASS'], 'the dead master\'s are served from PostgreSQL')
  t.same([...reads.down.wrong, ...reads.up.wrong], [],
    'every read shows the last write, the one on the dead master\'s event too')
  t.equal(app.cache.partlyBypassed, true)
  // Its breaker stays open while it is down: ioredis keeps no connection to a lost node, and a
  // probe that took "no connection" for "nothing to guard" closed it every 0.5 s.
  for (let i = 0; i < 20; i++) {
    await app.inject(`/events/${down[i % down.length]}`)
    await sleep(100)
  }
  const breakerLog = logs.lines
    .filter((line) => line.shard === victim && String(line.msg).startsWith('cache circuit breaker'))
    .map((line) => String(line.msg).split(':')[0])
  t.same(breakerLog, ['cache circuit breaker opened'],
    `the dead master's breaker opened once and stayed open (${breakerLog.length} changes)`)

  await cluster.revive(portOf(victim))
  for (const id of down) {
    t.ok(await waitForHit(app, `/events/${id}`, 15_000) < 15_000, `event ${id} is a hit again once its master is back`)
  }
  t.equal((await app.inject(`/events/${down[0]}`)).json().name, whileDown, 'the write is what is cached')
  await until('no breaker open', async () => app.cache.partlyBypassed === false, { withinMs: 10_000 })
  t.equal(app.cache.partlyBypassed, false, 'nothing owed, no breaker open')
})

t.test('a master killed: requests stay 200 and fast, writes are read back; all masters back: hits again', async (t) => {
  const cluster = await startRedisCluster(t)
  // The production command timeout: what a request pays while part of the cluster is gone.
  const app = await buildTestApp(t, {
    CACHE_MODE: 'redis',
    REDIS_CLUSTER_NODES: cluster.nodes,
    REDIS_COMMAND_TIMEOUT_MS: '50'
  })
  const ids = []
  for (let i = 0; i < 6; i++) ids.push((await postEvent(app)).id)
  for (const id of ids) await app.inject(`/events/${id}`)
  const victim = await masterOf(cluster.nodes, app.cache.keys.views.event(ids[0]!).key)
  await onNode(victim, 'SHUTDOWN', 'NOSAVE').catch(() => {})

  const timings: number[] = []
  const outcomes: Record<string, number> = {}
  for (let round = 0; round < 5; round++) {
    for (const id of ids) {
      const started = performance.now()
      const response = await app.inject(`/events/${id}`)
      timings.push(performance.now() - started)
      const outcome = `${response.statusCode} ${response.headers['x-cache']}`
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    }
  }
  const slowest = Math.max(...timings)
  t.comment(`${timings.length} reads with one master of three down: ${JSON.stringify(outcomes)}, ` +
    `slowest ${slowest.toFixed(1)} ms`)
  t.ok(Object.keys(outcomes).every((outcome) => outcome.startsWith('200 ')), 'all 200')
  t.ok(slowest < 1_000, 'no request waits on the dead master')
  const whileDown = 'written with a master down'
  const written = await app.inject({ method: 'PATCH', url: `/events/${ids[0]}`, payload: { name: whileDown } })
  t.equal(written.statusCode, 200, 'writes still work')
  t.equal((await app.inject(`/events/${ids[0]}`)).json().name, whileDown, 'and are read back')

  // Every node restarts from its nodes.conf: the same cluster, the same slots, no data.
  await cluster.stop()
  await cluster.start()
  const hitIn = await waitForHit(app, `/events/${ids[0]}`, 15_000)
  t.ok(hitIn < 15_000, `hits ${hitIn} ms after the restart`)
  t.equal((await app.inject(`/events/${ids[0]}`)).json().name, whileDown, 'the write is still what is read')
})
