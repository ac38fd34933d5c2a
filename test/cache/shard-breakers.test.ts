import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ShardBreakers } from '../../src/cache/resilience/shard-breakers.ts'

t.test('shard breakers: one per shard, opened and probed on their own', async (t) => {
  const down = new Set(['b'])
  const probed: string[] = []
  const changes: string[] = []
  const breakers = new ShardBreakers({
    threshold: 2,
    cooldownMs: 10,
    maxCooldownMs: 20,
    shardOf: (key) => key.split(':')[0]!,
    probe: async (shard) => { probed.push(shard); if (down.has(shard)) throw new Error(`${shard} down`) },
    onChange: (shard, state) => changes.push(`${shard} ${state}`)
  })
  t.teardown(() => breakers.dispose())
  t.equal(breakers.for('a:1'), breakers.for('a:2'), 'keys of one shard share its breaker')
  t.not(breakers.for('a:1'), breakers.for('b:1'))
  breakers.for('b:1').failure(new Error('1'))
  breakers.for('b:2').failure(new Error('2'))
  t.same(breakers.open, ['b'], 'failures on one shard open only its breaker')
  t.equal(breakers.for('a:3').isOpen, false)
  await sleep(60)
  t.ok(probed.length >= 2 && probed.every((shard) => shard === 'b'),
    `only the open shard is probed (${probed.join(', ')})`)
  down.clear()
  await sleep(60)
  t.same(breakers.open, [])
  t.same(changes, ['b open', 'b closed'])
})
