// Two tiered instances, and both store modes with Redis stalling writes: no read older than what the
// cache contract allows.
import t from 'tap'
import { check, report } from '../support/consistency-run.ts'

t.test('tiered, two instances: a read on one misses a write acknowledged by the other ' +
  'only within the measured invalidation lag', async (t) => {
  const figures = await check(t, { fence: true, mode: 'tiered', instances: 2 })
  report(t, 'tiered, 2 instances', figures)
  t.ok(figures.reads > 1000 && figures.writes > 100, 'enough traffic to mean something')
  t.equal(figures.errors, 0, 'no errors')
  t.ok(figures.lagsMs.length >= figures.writes * 0.9,
    `the instances heard each other's invalidations (${figures.lagsMs.length} messages for ${figures.writes} writes)`)
  // Client and both instances share this process's event loop, so one bound covers them: a stale
  // read can only start before the other instance has handled the message, i.e. within the lag.
  const bound = Math.max(...figures.lagsMs, 0) + 10
  const late = figures.staleAgesMs.filter((age) => age > bound)
  t.equal(late.length, 0, `no stale read later than the largest measured lag + 10 ms (${bound.toFixed(1)} ms); ` +
    `${figures.stale - late.length} within it`)
})

for (const mode of ['redis', 'tiered'] as const) {
  t.test(`consistency, ${mode} mode, Redis stalling writes past the command timeout every 2 s: ` +
    'invalidations owed and replayed, no stale read', async (t) => {
    const figures = await check(t, { fence: true, mode, instances: 1, stallsWrites: true, durationSeconds: 15 })
    report(t, `${mode}, ${figures.stalls} write stalls`, figures)
    t.ok(figures.reads > 500 && figures.writes > 50, 'enough traffic to mean something')
    t.ok(figures.owed > 0, `writes' invalidations failed and were owed (${figures.owed})`)
    t.equal(figures.errors, 0, 'no errors')
    t.equal(figures.stale, 0, 'no read older than a write acknowledged before it')
  })
}
