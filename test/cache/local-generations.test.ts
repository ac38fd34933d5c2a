import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import t from 'tap'
import { LocalGenerations } from '../../src/cache/stores/local-generations.ts'
import { buildTestApp } from '../support/app.ts'
import { postEvent } from '../support/fixtures.ts'

t.test('local generations: a stamp read before a bump never matches after it, whatever was dropped', async (t) => {
  // Operations on six generations with room for two counters: drops on almost every bump.
  const operation = fc.record({ bump: fc.boolean(), generation: fc.integer({ min: 0, max: 5 }) })
  const valuesHold = fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
    const generations = new LocalGenerations(2)
    // Every value a generation was read at, and whether it has been bumped since.
    const seen: Array<{ generation: string, value: number, bumpedSince: boolean }> = []
    for (const { bump, generation } of operations) {
      const name = `g${generation}`
      if (bump) {
        generations.bump([name])
        for (const stamp of seen) if (stamp.generation === name) stamp.bumpedSince = true
      } else {
        seen.push({ generation: name, value: generations.value(name), bumpedSince: false })
      }
      if (generations.size > 2) return false
      for (const { generation, value, bumpedSince } of seen) {
        const now = generations.value(generation)
        if (now < value || (bumpedSince && now === value)) return false
      }
    }
    return true
  })
  // fc.assert throws with the shrunk counterexample: the assertion's failure shows it.
  t.doesNotThrow(() => fc.assert(valuesHold, { numRuns: 2_000 }),
    '2,000 random runs: values only rise, and every bump changes the value')

  const generations = new LocalGenerations(2)
  const neverBumped = generations.value('z')
  generations.bump(['a', 'b', 'c'])
  t.equal(generations.size, 2, 'the counter bumped longest ago is dropped')
  t.equal(generations.value('a'), 1, 'the last one dropped keeps its value (the floor)')
  t.ok(generations.value('z') > neverBumped,
    'a generation never bumped reads the risen floor: a spurious miss, never a stale hit')
})

t.test('memory mode: invalidating 1,000,000 distinct ids keeps the heap bounded, and the cache correct', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const app = await buildTestApp(t, { CACHE_MODE: 'memory', CACHE_MEMORY_MAX_ENTRIES: '100000' })
  const { invalidations } = app.cache.keys
  const event = await postEvent(app, { name: 'before' })
  await app.inject(`/events/${event.id}`)
  t.equal((await app.inject(`/events/${event.id}`)).headers['x-cache'], 'HIT')

  gc()
  const before = process.memoryUsage().heapUsed
  // Each write bumps two generations of its own (a guest, and its event's guest list).
  for (let id = 1_000; id < 1_001_000; id++) await app.cache.invalidate(invalidations.guestChanged(id, [id]))
  gc()
  const grownMiB = (process.memoryUsage().heapUsed - before) / 2 ** 20
  t.comment(`heap grew ${grownMiB.toFixed(1)} MiB for 2,000,000 distinct generations`)
  // Unbounded, every generation costs a counter in the store and one in the bypass keys: ~500 MiB.
  t.ok(grownMiB < 64, `the heap stays bounded (${grownMiB.toFixed(1)} MiB)`)

  const patched = await app.inject({ method: 'PATCH', url: `/events/${event.id}`, payload: { name: 'after' } })
  t.equal(patched.statusCode, 200)
  const read = await app.inject(`/events/${event.id}`)
  t.equal(read.headers['x-cache'], 'MISS')
  t.equal(read.json().name, 'after', 'a write after the counters were dropped still invalidates')
  t.equal((await app.inject(`/events/${event.id}`)).headers['x-cache'], 'HIT', 'and the new state is cached')
})
