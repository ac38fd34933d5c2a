// Tiered mode on a Redis Cluster: the invalidation bus publishes through the cluster. Run by
// `npm run test:cluster` (with the other cluster suites; see the README's Tests section).
import t from 'tap'
import { freePort } from '../../src/free-port.ts'
import { buildTestApp } from '../support/app.ts'
import { cacheEnv } from '../support/cache-modes.ts'
import { tierOf } from '../support/cache-reads.ts'
import { createTestDatabase } from '../support/database.ts'
import { patchEvent, postEvent } from '../support/fixtures.ts'
import { until } from '../support/waiting.ts'

t.test('on a Redis Cluster: an L1 copy on one instance is dropped by a write on another', async (t) => {
  const env = { ...await cacheEnv(t, 'cluster'), CACHE_MODE: 'tiered', DATABASE_URL: await createTestDatabase(t) }
  const [a, b] = [await buildTestApp(t, env), await buildTestApp(t, env)]
  const event = await postEvent(a, { name: 'v0' })
  const url = `/events/${event.id}`
  await b.inject(url)
  await until('b serving the event from L1', async () => tierOf(await b.inject(url)) === 'L1')
  await patchEvent(t, a, event.id, { name: 'v1' })
  const lagMs = await until('b showing the write on a', async () => (await b.inject(url)).json().name === 'v1')
  t.ok(lagMs < 1_000, `the other instance sees it ${lagMs.toFixed(1)} ms later (published through the cluster)`)
  t.equal(tierOf(await b.inject(url)), 'L1', 'and copies the new state')
})

t.test('on a Redis Cluster whose first listed node is gone: the subscriber moves to the next, ' +
  'and L1 works', async (t) => {
  // A seed node decommissioned but still first in REDIS_CLUSTER_NODES: nothing listens there.
  const cluster = await cacheEnv(t, 'cluster')
  const env = {
    ...cluster,
    REDIS_CLUSTER_NODES: `127.0.0.1:${await freePort()},${cluster.REDIS_CLUSTER_NODES}`,
    CACHE_MODE: 'tiered',
    DATABASE_URL: await createTestDatabase(t)
  }
  const [a, b] = [await buildTestApp(t, env), await buildTestApp(t, env)]
  const event = await postEvent(a, { name: 'v0' })
  const url = `/events/${event.id}`
  const l1InMs = await until('b serving the event from L1', async () => tierOf(await b.inject(url)) === 'L1', {
    withinMs: 5_000
  })
  t.equal(tierOf(await b.inject(url)), 'L1', `L1 serves, ${l1InMs.toFixed(0)} ms after the instance was handed over`)
  await patchEvent(t, a, event.id, { name: 'v1' })
  const lagMs = await until('b showing the write on a', async () => (await b.inject(url)).json().name === 'v1')
  t.ok(lagMs < 1_000, `the other instance sees the write ${lagMs.toFixed(1)} ms later`)
})
