import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { CircuitBreaker, type BreakerState } from '../../src/cache/resilience/circuit-breaker.ts'

t.test('circuit breaker: opens after consecutive failures, probes in the background, closes on success', async (t) => {
  const changes: BreakerState[] = []
  let probeOk = false
  let probes = 0
  const breaker = new CircuitBreaker({
    threshold: 3,
    cooldownMs: 20,
    maxCooldownMs: 80,
    probe: async () => { probes++; if (!probeOk) throw new Error('still down') },
    onChange: (state) => changes.push(state)
  })
  t.teardown(() => breaker.dispose())
  breaker.failure(new Error('1'))
  breaker.failure(new Error('2'))
  breaker.success()
  breaker.failure(new Error('3'))
  t.equal(breaker.state, 'closed', 'a success resets the count')
  breaker.failure(new Error('4'))
  breaker.failure(new Error('5'))
  t.equal(breaker.state, 'open')
  await sleep(100)
  t.ok(probes >= 2, 'probes while down, backing off')
  t.equal(breaker.state, 'open')
  probeOk = true
  await sleep(200)
  t.equal(breaker.state, 'closed')
  t.same(changes, ['open', 'closed'], 'one transition each way')
})
