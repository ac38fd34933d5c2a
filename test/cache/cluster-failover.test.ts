// A Redis Cluster master dying and its replica taking over, under the app. Run by
// `npm run test:cluster` (with the other cluster suites; see the README's Tests section).
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildTestApp, createTestDatabase, postEvent, waitForHit } from '../helper.ts'
import { startRedisCluster, type RedisCluster } from '../redis-cluster.ts'

/** The port of the master serving `slot`, read from CLUSTER NODES on `askPort`. */
async function masterOf (cluster: RedisCluster, askPort: number, slot: number): Promise<number | undefined> {
  const lines = String(await cluster.command(askPort, 'CLUSTER', 'NODES')).trim().split('\n')
  for (const line of lines) {
    const [, address, flags, , , , , , ...slots] = line.split(' ')
    if (!flags!.split(',').includes('master') || flags!.includes('fail')) continue
    const owns = slots.some((range) => {
      const [low, high = low] = range.split('-').map(Number)
      return slot >= low! && slot <= high!
    })
    if (owns) return Number(address!.split('@')[0]!.split(':')[1])
  }
  return undefined
}

t.test('a master killed: its replica takes over, requests stay 200 and never stale, hits come back', async (t) => {
  const cluster = await startRedisCluster(t, { replicas: 1 })
  const app = await buildTestApp(t, { CACHE_MODE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes, DATABASE_URL: await createTestDatabase(t) })
  const event = await postEvent(app, { name: 'before' })
  t.ok(await waitForHit(app, `/events/${event.id}`, 5_000) < 5_000, 'cached on the cluster')

  const slot = Number(await cluster.command(cluster.ports[0]!, 'CLUSTER', 'KEYSLOT', app.cache.keys.views.event(event.id).key))
  const master = await masterOf(cluster, cluster.ports[0]!, slot)
  t.ok(master !== undefined, `slot ${slot} has a master (${master})`)
  await cluster.kill(master!)
  const killedAt = performance.now()

  // A write while the slot has no master: its invalidation cannot land, so it is owed.
  const written = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
  t.equal(written.statusCode, 200, 'writes still work')

  const outcomes = new Map<string, number>()
  const stale: string[] = []
  let promotedAfterMs: number | undefined
  let hitAfterMs: number | undefined
  const survivor = cluster.ports.find((port) => port !== master)!
  while (hitAfterMs === undefined && performance.now() - killedAt < 20_000) {
    const read = await app.inject(`/events/${event.id}`)
    const outcome = `${read.statusCode} ${String(read.headers['x-cache'])}`
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    if (read.statusCode === 200 && read.json().name !== 'after') stale.push(outcome)
    promotedAfterMs ??= await masterOf(cluster, survivor, slot).then((port) => port !== undefined && port !== master ? performance.now() - killedAt : undefined)
    if (read.headers['x-cache'] === 'HIT') hitAfterMs = performance.now() - killedAt
    await sleep(20)
  }
  t.comment(`replica promoted ${promotedAfterMs?.toFixed(0)} ms after the kill, hits back after ${hitAfterMs?.toFixed(0)} ms; reads: ${[...outcomes].map(([outcome, n]) => `${outcome} × ${n}`).join(', ')}`)
  t.ok(promotedAfterMs !== undefined, 'a replica took the slot over')
  t.ok([...outcomes.keys()].every((outcome) => outcome.startsWith('200 ')), 'every read was a 200')
  t.same(stale, [], 'no read showed the state before the write')
  t.ok(hitAfterMs !== undefined, 'hits came back on the promoted replica')
  t.equal((await app.inject(`/events/${event.id}`)).json().name, 'after')
})
