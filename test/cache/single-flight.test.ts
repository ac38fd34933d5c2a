import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { FreshFlight, SingleFlight } from '../../src/cache/single-flight.ts'

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
