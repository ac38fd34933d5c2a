// Writes made in SQL beside the API's: no read misses one once every instance has applied it, and the
// checker finds the stale reads when the notify triggers are gone.
import t from 'tap'
import { check, report } from '../support/consistency-run.ts'

t.test('tiered, two instances, a third of the writes made in SQL: no read misses a SQL write once every ' +
  'instance has applied it', async (t) => {
  const figures = await check(t, { fence: true, mode: 'tiered', instances: 2, sqlShare: 1 / 3, durationSeconds: 20 })
  report(t, 'tiered, 2 instances, SQL writer', figures)
  t.ok(figures.reads > 500 && figures.sqlWrites > 30, 'enough traffic to mean something')
  t.equal(figures.errors, 0, 'no errors')
  t.equal(figures.databaseLagsMs.length, figures.sqlWrites, 'every SQL write was applied by both instances')
  t.equal(figures.lateSqlStale, 0, 'no stale read of a SQL write outside the measured lag')
  const bound = Math.max(...figures.lagsMs, 0) + 10
  t.equal(figures.staleAgesMs.filter((age) => age > bound).length, 0, 'nor of an API write outside its lag')
})

t.test('the same with the notify triggers dropped by hand reports stale reads (the checker can fail)', async (t) => {
  const figures = await check(t, {
    fence: true, mode: 'tiered', instances: 2, sqlShare: 1 / 3, durationSeconds: 10, dropTriggers: true
  })
  report(t, 'triggers dropped', figures)
  t.ok(figures.lateSqlStale > 0, `stale reads of SQL writes detected: ${figures.lateSqlStale}`)
})
