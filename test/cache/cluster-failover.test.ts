// A Redis Cluster master dying and its replica taking over, under the app. Run by
// `npm run test:cluster` (with the other cluster suites; see the README's Tests section).
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { buildTestApp, type TestApp } from '../support/app.ts'
import { readLog, waitForHit } from '../support/cache-reads.ts'
import { createTestDatabase } from '../support/database.ts'
import { postEvent } from '../support/fixtures.ts'
import { masterOf, portOf, replicasOf, startRedisCluster } from '../support/redis-cluster.ts'
import { until } from '../support/waiting.ts'

/** How long a replica may take to be promoted, and how often to ask. */
const PROMOTION = { withinMs: 20_000, everyMs: 50 }

/** Whether the node on `port` now serves `key` as a master (asked of that node). */
async function serves (port: number, key: string): Promise<boolean> {
  return portOf(await masterOf(`127.0.0.1:${port}`, key)) === port
}

async function cachedEventOnCluster (t: Test, env: Record<string, string> = {}) {
  const cluster = await startRedisCluster(t, { replicas: 1 })
  const app = await buildTestApp(t, {
    CACHE_MODE: 'redis',
    REDIS_CLUSTER_NODES: cluster.nodes,
    DATABASE_URL: await createTestDatabase(t),
    ...env
  })
  const event = await postEvent(app, { name: 'before' })
  t.ok(await waitForHit(app, `/events/${event.id}`, 5_000) < 5_000, 'cached on the cluster')
  const key = app.cache.keys.views.event(event.id).key
  const address = await masterOf(cluster.nodes, key)
  const replicas = await replicasOf(address)
  t.equal(replicas.length, 1, `${key}: master ${address}, replica ${replicas[0]}`)
  return { cluster, app, event, key, master: portOf(address), replica: portOf(replicas[0]!) }
}

/** Reads `url` until a HIT or `limitMs`: what each read was, and which reads did not show `name`. */
async function readUntilHit (app: TestApp, url: string, name: string, limitMs: number) {
  const log = readLog()
  const isHit = async () => (await log.read(app, url, name)).headers['x-cache'] === 'HIT'
  const hitAfterMs = await until(`${url} a HIT`, isHit, { withinMs: limitMs, everyMs: 20 }).catch(() => undefined)
  return { hitAfterMs, wrong: log.wrong, allOk: log.allOk(), summary: log.summary() }
}

t.test('a master killed: its replica takes over, requests stay 200 and never stale, hits come back', async (t) => {
  const { cluster, app, event, key, master, replica } = await cachedEventOnCluster(t)
  await cluster.kill(master)
  const killedAt = performance.now()

  // A write while the slot has no master: its invalidation cannot land, so it is owed.
  const written = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
  t.equal(written.statusCode, 200, 'writes still work')

  const promoted = (async () => {
    await until(`the replica on ${replica} serving ${key}`, () => serves(replica, key), PROMOTION)
    return performance.now() - killedAt
  })()
  const reads = await readUntilHit(app, `/events/${event.id}`, 'after', 20_000)
  const promotedAfterMs = await promoted
  t.comment(`replica promoted ${promotedAfterMs.toFixed(0)} ms after the kill, ` +
    `hits back after ${reads.hitAfterMs?.toFixed(0)} ms; reads: ${reads.summary}`)
  t.ok(await serves(replica, key), 'the replica took the slot over')
  t.ok(reads.allOk, 'every read was a 200')
  t.same(reads.wrong, [], 'no read showed the state before the write')
  t.ok(reads.hitAfterMs !== undefined, 'hits came back on the promoted replica')
})

/**
 * Redis replicates asynchronously: an invalidation the master acknowledged can die with it before
 * its replica has it. To make that happen every time, the replica is given the cached entry
 * (WAIT), then cut off before the write (the master asks for a password the replica does not have,
 * and its link is dropped), and the master is killed right after it.
 */
async function failoverLosingTheWrite (t: Test, invalidationReplicas: number) {
  const env = { CACHE_INVALIDATION_REPLICAS: String(invalidationReplicas) }
  const { cluster, app, event, key, master, replica } = await cachedEventOnCluster(t, env)
  const invalidations: string[] = []
  app.cache.events.observe({ invalidated: (_request, _generations, result) => invalidations.push(result) })
  const admin = new Redis(master, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null })
  admin.on('error', () => {})
  // The entry must be on the replica before it is cut off, or the failover has nothing old to serve.
  t.equal(await admin.call('WAIT', 1, 5_000), 1, 'the replica has the cached entry')
  await admin.config('SET', 'requirepass', 'the-replica-does-not-know-it')
  await admin.call('CLIENT', 'KILL', 'TYPE', 'replica')
  admin.disconnect()
  const cutOff = async () =>
    /master_link_status:down/.test(String(await cluster.command(replica, 'INFO', 'replication')))
  await until('the replica cut off from its master', cutOff, { withinMs: 5_000, everyMs: 20 })

  const written = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
  t.equal(written.statusCode, 200, 'the write commits')
  await cluster.kill(master)
  await until(`the replica on ${replica} serving ${key}`, () => serves(replica, key), PROMOTION)
  t.ok(await serves(replica, key), 'the replica took the slot over, without the write\'s invalidation')
  // The old master comes back as the new one's replica (WAIT needs one).
  await cluster.revive(master)
  return { invalidations, reads: await readUntilHit(app, `/events/${event.id}`, 'after', 30_000) }
}

t.test('without CACHE_INVALIDATION_REPLICAS, a failover can bring back an entry a write killed ' +
  '(the hazard is real)', async (t) => {
  const { invalidations, reads } = await failoverLosingTheWrite(t, 0)
  t.comment(`reads: ${reads.summary}`)
  t.same(invalidations, ['done'], 'the master acknowledged the invalidation')
  t.ok(reads.wrong.some((read) => read.startsWith('200 HIT')),
    `the promoted replica served the old entry as a hit: ${reads.wrong.join('; ')}`)
})

t.test('with CACHE_INVALIDATION_REPLICAS=1, an invalidation no replica has is owed, ' +
  'and the failover serves nothing stale', async (t) => {
  const { invalidations, reads } = await failoverLosingTheWrite(t, 1)
  t.comment(`reads: ${reads.summary}; ` +
    `hits back ${reads.hitAfterMs?.toFixed(0)} ms after the old master was started again`)
  t.same(invalidations, ['owed'], 'WAIT found no replica with it: owed, not done')
  t.same(reads.wrong, [], 'no read showed the state before the write')
  t.ok(reads.hitAfterMs !== undefined, 'hits came back once the shard had a replica again')
})
