// Redis mode under 32 clients: no stale read with the fence, and the checker finds them without it.
import t from 'tap'
import { check, CLIENTS, report } from '../support/consistency-run.ts'

t.test(`consistency: ${CLIENTS} clients, 90% reads / 10% writes, redis mode, 0–20 ms load delays: ` +
  'no stale read', async (t) => {
  const figures = await check(t, { fence: true, mode: 'redis', instances: 1 })
  report(t, 'fenced', figures)
  t.ok(figures.reads > 1000 && figures.writes > 100, 'enough traffic to mean something')
  t.equal(figures.errors, 0, 'no errors')
  t.equal(figures.stale, 0, 'no read older than a write acknowledged before it')
})

t.test('the same run with the fence switched off reports stale reads (the checker can fail)', async (t) => {
  const figures = await check(t, { fence: false, mode: 'redis', instances: 1 })
  report(t, 'unfenced', figures)
  t.ok(figures.stale > 0, `stale reads detected: ${figures.stale}`)
})
