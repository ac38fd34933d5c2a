// Tiered mode on a Redis Cluster: the invalidation bus publishes through the cluster. Run by
// `npm run test:cluster` (with the other cluster suites; see the README's Tests section).
import t from 'tap'
import { buildTestApp, cacheEnv, createTestDatabase, postEvent, tierOf, until } from '../helper.ts'

t.test('on a Redis Cluster: an L1 copy on one instance is dropped by a write on another', async (t) => {
  const env = { ...await cacheEnv(t, 'cluster'), CACHE_MODE: 'tiered', DATABASE_URL: await createTestDatabase(t) }
  const [a, b] = [await buildTestApp(t, env), await buildTestApp(t, env)]
  const event = await postEvent(a, { name: 'v0' })
  await b.inject(`/events/${event.id}`)
  await until(async () => tierOf(await b.inject(`/events/${event.id}`)) === 'L1')
  await a.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'v1' } })
  const lagMs = await until(async () => (await b.inject(`/events/${event.id}`)).json().name === 'v1')
  t.ok(lagMs < 1_000, `the other instance sees it ${lagMs.toFixed(1)} ms later (published through the cluster)`)
  t.equal(tierOf(await b.inject(`/events/${event.id}`)), 'L1', 'and copies the new state')
})
