// Slots moving between Redis Cluster masters under the app (live resharding). Run by
// `npm run test:cluster` (with the other cluster suites; see the README's Tests section).
import { execFile } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { buildTestApp } from '../support/app.ts'
import { readLog, waitForHit } from '../support/cache-reads.ts'
import { postEvent } from '../support/fixtures.ts'
import { keySlot, masterOf, portOf, type RedisCluster, shards, startRedisCluster } from '../support/redis-cluster.ts'
import { until } from '../support/waiting.ts'

const exec = promisify(execFile)
const MODES = ['redis', 'tiered'] as const

async function nodeId (cluster: RedisCluster, port: number): Promise<string> {
  return String(await cluster.command(port, 'CLUSTER', 'MYID'))
}

/** An app on a cluster of its own, with the production command timeout (50 ms). */
async function appOnCluster (t: Test, mode: (typeof MODES)[number]) {
  const cluster = await startRedisCluster(t)
  // One test client is one IP: the write limit would turn the load's writes into 429s.
  const app = await buildTestApp(t, {
    CACHE_MODE: mode,
    REDIS_CLUSTER_NODES: cluster.nodes,
    RATE_LIMIT_WRITES: '1000000000'
  })
  const invalidations: string[] = []
  app.cache.events.observe({ invalidated: (_request, _generations, result) => invalidations.push(result) })
  return { cluster, app, invalidations }
}

for (const mode of MODES) {
  t.test(`${mode}: a slot caught half-migrated (its generation moved, its entry not yet) serves nothing stale, ` +
    'and hits come back once it has moved', async (t) => {
    const { cluster, app, invalidations } = await appOnCluster(t, mode)
    const event = await postEvent(app, { name: 'before' })
    const url = `/events/${event.id}`
    t.ok(await waitForHit(app, url, 5_000) < 5_000, 'cached on the cluster')
    const { key, dependsOn: [generation] } = app.cache.keys.views.event(event.id)
    const slot = await keySlot(cluster.nodes, key)
    const source = portOf(await masterOf(cluster.nodes, key))
    const target = cluster.ports.find((port) => port !== source)!
    const [sourceId, targetId] = [await nodeId(cluster, source), await nodeId(cluster, target)]

    // What `redis-cli --cluster reshard` does for one slot, stopped after the first key.
    await cluster.command(target, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId)
    await cluster.command(source, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId)
    await cluster.command(source, 'MIGRATE', '127.0.0.1', target, '', 0, 5_000, 'KEYS', generation!)
    const log = readLog()
    for (let i = 0; i < 5; i++) await log.read(app, url, 'before')
    const written = await app.inject({ method: 'PATCH', url, payload: { name: 'after' } })
    t.equal(written.statusCode, 200, 'a write during the migration commits')
    for (let i = 0; i < 5; i++) await log.read(app, url, 'after')

    // The rest of the slot's keys, then every master told who owns it now.
    const rest = await cluster.command(source, 'CLUSTER', 'GETKEYSINSLOT', slot, 100) as string[]
    if (rest.length > 0) await cluster.command(source, 'MIGRATE', '127.0.0.1', target, '', 0, 5_000, 'KEYS', ...rest)
    for (const port of cluster.ports) await cluster.command(port, 'CLUSTER', 'SETSLOT', slot, 'NODE', targetId)
    const isHit = async () => (await log.read(app, url, 'after')).headers['x-cache'] === 'HIT'
    const hitAfterMs = await until(`${url} a HIT`, isHit, { withinMs: 20_000, everyMs: 20 }).catch(() => undefined)

    t.comment(`write's invalidation: ${invalidations.join(', ')}; reads: ${log.summary()}; ` +
      `hits back ${hitAfterMs?.toFixed(0)} ms after the slot moved`)
    t.ok(log.allOk(), 'every read was a 200')
    t.same(log.wrong, [], 'no read showed the state before the write, before or after the slot moved')
    t.ok(hitAfterMs !== undefined, 'hits came back from the new master')
    t.equal(portOf(await masterOf(cluster.nodes, key)), target, 'the entry now lives on the new master')
  })
}

for (const mode of MODES) {
  t.test(`${mode}: a whole master's slots resharded to another (redis-cli --cluster reshard) under reads and writes: ` +
    'nothing stale, every read a 200, hits back', async (t) => {
    const { cluster, app, invalidations } = await appOnCluster(t, mode)
    const events = await Promise.all(Array.from({ length: 30 }, (_, i) => postEvent(app, { name: `event ${i}` })))
    const expected = new Map(events.map(({ id, name }) => [id, name]))
    for (const { id } of events) await waitForHit(app, `/events/${id}`, 5_000)
    const source = portOf(await masterOf(cluster.nodes, app.cache.keys.views.event(events[0]!.id).key))
    const target = cluster.ports.find((port) => port !== source)!
    const moving = [] as number[]
    for (const { id } of events) {
      if (portOf(await masterOf(cluster.nodes, app.cache.keys.views.event(id).key)) === source) moving.push(id)
    }
    const sourceShard = (await shards(cluster.nodes)).find(({ address }) => portOf(address) === source)!
    const slots = sourceShard.ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0)

    // Clients that each own some events, so every read has one right answer: the last write acknowledged.
    const log = readLog()
    let writes = 0
    let resharding = true
    const client = async (owned: number[]) => {
      for (let n = 0; resharding; n++) {
        const id = owned[n % owned.length]!
        if (n % 5 === 0) {
          const name = `${id} v${n}`
          const written = await app.inject({ method: 'PATCH', url: `/events/${id}`, payload: { name } })
          if (written.statusCode !== 200) {
            resharding = false
            throw new Error(`PATCH /events/${id} answered ${written.statusCode}: ${written.body}`)
          }
          expected.set(id, name)
          writes++
        } else {
          await log.read(app, `/events/${id}`, expected.get(id)!)
        }
        await sleep(1)
      }
    }
    const clients = [0, 1, 2, 3].map((k) => client(events.map(({ id }) => id).filter((_, i) => i % 4 === k)))
    const started = performance.now()
    const reshard = await exec('redis-cli', [
      '--cluster', 'reshard', `127.0.0.1:${source}`,
      '--cluster-from', await nodeId(cluster, source),
      '--cluster-to', await nodeId(cluster, target),
      '--cluster-slots', String(slots),
      '--cluster-yes'
    ], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 })
    const reshardMs = performance.now() - started
    await sleep(500)
    resharding = false
    await Promise.all(clients)

    const misses: number[] = []
    for (const [id, name] of expected) {
      const isHit = async () => (await log.read(app, `/events/${id}`, name)).headers['x-cache'] === 'HIT'
      const hit = await until(`/events/${id} a HIT`, isHit, { withinMs: 20_000, everyMs: 20 }).catch(() => undefined)
      if (hit === undefined) misses.push(id)
    }
    t.comment(`${slots} slots (${moving.length} of 30 events) moved in ${(reshardMs / 1000).toFixed(1)} s; ` +
      `${writes} writes (invalidations: ${count(invalidations)}); reads: ${log.summary()}`)
    t.match(reshard.stdout, /Moving slot/, 'redis-cli moved the slots')
    const sourceServes = (await shards(cluster.nodes)).some(({ address }) => portOf(address) === source)
    t.equal(sourceServes, false, 'the source master serves no slot now')
    t.ok(moving.length > 0 && writes > 0, 'events on the moving master, and writes while the slots moved')
    t.ok(log.allOk(), 'every read was a 200')
    t.same(log.wrong, [], 'no read showed a state older than the last acknowledged write')
    t.same(misses, [], 'every event is a hit again afterwards')
  })
}

function count (list: readonly string[]): string {
  const counts = new Map<string, number>()
  for (const item of list) counts.set(item, (counts.get(item) ?? 0) + 1)
  return [...counts].map(([item, n]) => `${item} ${n}`).join(', ')
}
