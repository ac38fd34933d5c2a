import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { invalidationSubscriber } from '../../src/redis/subscriber.ts'
import { InvalidationBus } from '../../src/cache/stores/invalidation-bus.ts'
import { loadConfig } from '../../src/config.ts'
import { logCollector } from '../support/app.ts'
import { startRedisServer, type RedisServer } from '../support/redis-server.ts'
import { redisClient } from '../support/stores.ts'
import { until } from '../support/waiting.ts'

// The tiered store's pub/sub between instances, on a redis-server each test owns: its subscriber's
// connection is killed, the server restarted, SUBSCRIBE refused, for real.

interface Instance {
  bus: InvalidationBus
  heard: Array<{ generations: readonly string[], lagMs: number }>
  /** Each reset's reason, and whether the bus still said it was listening when it reset. */
  resets: Array<{ reason: string, listening: boolean }>
  logs: ReturnType<typeof logCollector>['lines']
}

/** One instance's bus on `server`, started (listening unless `listening: false`). */
async function busOn (t: Test, server: RedisServer, options: { listening?: boolean } = {}): Promise<Instance> {
  const config = loadConfig({ CACHE_MODE: 'tiered', REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: '1000' })
  const client = await redisClient(t, config)
  const subscriber = invalidationSubscriber(client, config)
  const { lines, stream } = logCollector()
  const bus = new InvalidationBus({ publisher: client, subscriber, channel: 'bus-test', log: pino({}, stream) })
  t.teardown(() => bus.close())
  const instance: Instance = { bus, heard: [], resets: [], logs: lines }
  await bus.start({
    remote: (generations, lagMs) => instance.heard.push({ generations, lagMs }),
    reset: (reason) => instance.resets.push({ reason, listening: bus.listening })
  }, 0)
  if (options.listening !== false) await until('the bus listening', async () => bus.listening, { withinMs: 5_000 })
  return instance
}

const now = () => performance.timeOrigin + performance.now()

t.test('a message reaches every other instance, with its lag; an instance never hears its own', async (t) => {
  const server = await startRedisServer(t)
  const [a, b, c] = [await busOn(t, server), await busOn(t, server), await busOn(t, server)]
  const sentAt = now()
  await a.bus.publish(['g1', 'g2'])
  await until('b and c hearing a', async () => b.heard.length === 1 && c.heard.length === 1)
  const receivedBy = now()
  for (const [name, { heard }] of [['b', b], ['c', c]] as const) {
    t.same(heard[0]!.generations, ['g1', 'g2'], `${name}: the generations, in order`)
    const { lagMs } = heard[0]!
    t.ok(lagMs >= 0 && lagMs <= receivedBy - sentAt, `${name}: lag ${lagMs.toFixed(2)} ms, publish to receipt`)
  }
  // One channel, delivered in order: once a has b's message, it has had every earlier one.
  await b.bus.publish(['g3'])
  await until('a and c hearing b', async () => a.heard.length === 1 && c.heard.length === 2)
  t.same(a.heard.map(({ generations }) => generations), [['g3']], 'a heard b, never itself')
  t.same(b.heard.map(({ generations }) => generations), [['g1', 'g2']], 'b heard a, never itself')
})

t.test('a killed subscriber connection: reset, not listening, a new epoch; then resubscribed, hearing again',
  async (t) => {
    const server = await startRedisServer(t)
    const [a, b] = [await busOn(t, server), await busOn(t, server)]
    const epoch = b.bus.epoch
    t.equal(Number(await server.command('CLIENT', 'KILL', 'TYPE', 'pubsub')), 2, 'both subscribers cut off')
    await until('b noticing', async () => b.resets.length === 1)
    t.same(b.resets, [{ reason: 'subscriber connection closed', listening: false }],
      'reset once, no longer listening when its listener hears of it')
    t.equal(b.bus.epoch, epoch + 1, 'a new epoch: fills begun before are refused')
    await until('b listening again', async () => b.bus.listening, { withinMs: 5_000 })
    t.equal(b.bus.epoch, epoch + 1, 'resubscribing keeps the epoch')
    await a.bus.publish(['after'])
    await until('b hearing a again', async () => b.heard.length === 1)
    t.same(b.heard[0]!.generations, ['after'], 'what a publishes after the resubscription')
    t.ok(b.logs.some(({ msg }) => msg === 'invalidation subscriber lost: L1 flushed and off until it resubscribes'),
      'the loss is logged')
  })

t.test('Redis restarted: not listening while it is down, listening and hearing once it is back', async (t) => {
  const server = await startRedisServer(t)
  const [a, b] = [await busOn(t, server), await busOn(t, server)]
  await server.stop()
  await until('b noticing', async () => b.resets.length >= 1)
  t.notOk(b.bus.listening, 'not listening once the connection is gone')
  await sleep(300)
  t.notOk(b.bus.listening, 'still not listening while Redis is down')
  await server.start()
  await until('a and b listening again', async () => a.bus.listening && b.bus.listening, { withinMs: 10_000 })
  await a.bus.publish(['back'])
  await until('b hearing a', async () => b.heard.length === 1)
  t.same(b.heard[0]!.generations, ['back'], 'what a publishes once Redis is back')
})

t.test('a SUBSCRIBE refused on a live connection is tried again on it, until it succeeds', async (t) => {
  const server = await startRedisServer(t)
  await server.command('ACL', 'SETUSER', 'default', '-subscribe')
  const b = await busOn(t, server, { listening: false })
  await until('two refused subscriptions logged', async () =>
    b.logs.filter(({ msg }) => String(msg).startsWith('invalidation subscriber could not subscribe')).length >= 2)
  t.notOk(b.bus.listening, 'not listening while refused')
  await server.command('ACL', 'SETUSER', 'default', '+subscribe')
  await until('b listening', async () => b.bus.listening, { withinMs: 5_000 })
  t.same(b.resets, [], 'the connection stayed up throughout')
  const a = await busOn(t, server)
  await a.bus.publish(['heard'])
  await until('b hearing a', async () => b.heard.length === 1)
  t.pass('and hears')
})
