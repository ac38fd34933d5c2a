// The command deadline's timing rules, timed by holding this process's event loop for a known time
// (as when the process is not scheduled) while a real Redis answers, or stopping that Redis.
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { createRedisClient } from '../../src/redis/client.ts'
import { invalidationSubscriber } from '../../src/redis/subscriber.ts'
import { usable } from '../../src/redis/usable.ts'
import { CommandDeadlines, watchCommands, type PendingCommand } from '../../src/redis/command-deadline.ts'
import { RedisStore } from '../../src/cache/stores/redis-store.ts'
import { COMMAND_DEADLINE } from '../../src/redis/command-deadline.ts'
import { loadConfig } from '../../src/config.ts'
import { startRedisServer } from '../support/redis-server.ts'
import { within } from '../support/waiting.ts'

// Wide enough that the test's Redis, on a machine busy with other work, answers well within it.
const WINDOW_MS = 200
// libuv's clock counts whole milliseconds: a timer may fire up to 1 ms short of its delay by performance.now().
const CLOCK_MS = 1

/** Holds the event loop for `ms`: nothing else in this process runs meanwhile, as while it is not scheduled. */
function hold (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // Busy: the point is not to yield.
  }
}

/** A command as the deadline sees it, that only the deadline settles: when, and with what. */
function silentCommand () {
  let settle: (at: number) => void = () => {}
  const failed = new Promise<number>((resolve) => { settle = resolve })
  const command: PendingCommand & { error?: Error } = {
    isSettled: false,
    promise: failed,
    reject (error: Error) {
      command.isSettled = true
      command.error = error
      settle(performance.now())
    }
  }
  return { command, failed }
}

/**
 * When a silent command failed. Deadline timers do not keep the process alive (a command waiting
 * on a connection does): this wait does, as the connection would.
 */
function failure (failed: Promise<number>): Promise<number> {
  return within(failed, 10_000, 'the command\'s failure')
}

/** A connected client configured as the app's (no offline queue, no resend), disconnected on teardown. */
async function client (t: Test, url: string, options: { commandTimeout?: number } = {}): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, ...options })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  await usable(redis)
  return redis
}

t.test('an answer that arrived while the process was held is read before the verdict: the command succeeds, ' +
  'where ioredis\' own commandTimeout fails it', async (t) => {
  const redis = await startRedisServer(t)
  const ours = await client(t, redis.url)
  watchCommands(ours, WINDOW_MS)
  const theirs = await client(t, redis.url, { commandTimeout: WINDOW_MS })

  // Held past the window by less than the stall share (the verdict waits one poll of the sockets),
  // then by far more (a fresh window).
  for (const heldMs of [WINDOW_MS * (1 + COMMAND_DEADLINE.stallShare / 4), WINDOW_MS * 4]) {
    const answer = ours.echo('ours')
    const plain = theirs.echo('theirs').then(() => 'answered', (error: Error) => error.message)
    hold(heldMs)
    t.equal(await answer, 'ours', `held ${heldMs} ms: answered`)
    t.match(await plain, /Command timed out/, `held ${heldMs} ms: ioredis' timer fires before the socket is read`)
  }
})

t.test('a pause of the whole host stops Redis as well: once both run again, the command has a fresh window ' +
  'for its answer', async (t) => {
  const redis = await startRedisServer(t)
  const ours = await client(t, redis.url)
  watchCommands(ours, WINDOW_MS)
  const pid = redis.pid()!
  process.kill(pid, 'SIGSTOP')
  t.teardown(() => resume(pid))
  const answer = ours.echo('after the pause')
  hold(WINDOW_MS * 3)
  // Redis runs again with this process: its answer is not in the socket yet when the timer fires.
  resume(pid)
  t.equal(await answer, 'after the pause')
})

t.test('a deadline that fires late gives the command a fresh window from when the process runs again', async (t) => {
  const { command, failed } = silentCommand()
  new CommandDeadlines(WINDOW_MS).watch(command)
  hold(WINDOW_MS * 3)
  const resumed = performance.now()
  const failedAt = await failure(failed)
  t.ok(failedAt - resumed >= WINDOW_MS - CLOCK_MS,
    `failed ${(failedAt - resumed).toFixed(1)} ms after the process ran again, not at once`)
  t.match(command.error?.message, /Command timed out/)
})

t.test('commands on one connection each have a window of their own', async (t) => {
  const deadlines = new CommandDeadlines(WINDOW_MS)
  const [first, second] = [silentCommand(), silentCommand()]
  const firstSent = performance.now()
  deadlines.watch(first.command)
  await sleep(WINDOW_MS / 2)
  const secondSent = performance.now()
  deadlines.watch(second.command)
  const [firstFailed, secondFailed] = await Promise.all([failure(first.failed), failure(second.failed)])
  t.ok(firstFailed - firstSent >= WINDOW_MS,
    `the first failed ${(firstFailed - firstSent).toFixed(1)} ms after it was sent`)
  t.ok(secondFailed - secondSent >= WINDOW_MS,
    `the second ${(secondFailed - secondSent).toFixed(1)} ms after it was sent, not with the first`)
})

t.test('a command started over (a cluster pipeline sent again after CLUSTERDOWN) is not ended by the deadline ' +
  'of its first send, only by its own', async (t) => {
  const deadlines = new CommandDeadlines(WINDOW_MS)
  const { command, failed } = silentCommand()
  deadlines.watch(command)
  // What ioredis' Command.initPromise does to a command a pipeline sends again.
  command.promise = new Promise(() => {})
  await sleep(WINDOW_MS * 1.5)
  t.notOk(command.isSettled, 'the first send\'s deadline passed without ending it')
  const resent = performance.now()
  deadlines.watch(command)
  t.ok(await failure(failed) - resent >= WINDOW_MS, 'the second send\'s deadline ends it')
})

t.test('a process that keeps stalling still fails a command that gets no answer, ' +
  `after at most ${COMMAND_DEADLINE.windows} windows`, async (t) => {
  const { command } = silentCommand()
  const armed = performance.now()
  new CommandDeadlines(WINDOW_MS).watch(command)
  let holds = 0
  // Every loop turn is held for longer than a window: each timer fires late.
  while (!command.isSettled && holds < 4 * COMMAND_DEADLINE.windows) {
    hold(WINDOW_MS * 2)
    holds++
    await turn()
  }
  t.ok(command.isSettled, `failed after ${holds} holds of ${WINDOW_MS * 2} ms`)
  t.ok(performance.now() - armed >= COMMAND_DEADLINE.windows * WINDOW_MS - CLOCK_MS, 'having had every window')
})

t.test('a stopped Redis (SIGSTOP) fails every kind of command the cache sends in about a window', async (t) => {
  const redis = await startRedisServer(t)
  const config = loadConfig({ CACHE_MODE: 'redis', REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: String(WINDOW_MS) })
  const redisClient = createRedisClient(config)
  redisClient.on('error', () => {})
  const subscriber = invalidationSubscriber(redisClient, config)
  subscriber.on('error', () => {})
  const theirs = await client(t, redis.url, { commandTimeout: WINDOW_MS })
  t.teardown(() => { redisClient.disconnect(); subscriber.disconnect() })
  const store = new RedisStore(redisClient, 60_000)
  const generations = ['deadline:{a}:generation', 'deadline:{b}:generation']
  await Promise.all([usable(redisClient), usable(subscriber)])

  const pid = redis.pid()!
  process.kill(pid, 'SIGSTOP')
  t.teardown(() => resume(pid))
  const entry = {
    key: 'deadline:{a}:entry',
    response: { status: 200, etag: '"e"', encoding: 'identity' as const, body: Buffer.from('{}') }
  }
  const sent: Record<string, () => Promise<unknown>> = {
    'a lookup (MGET)': () => store.lookup(entry.key, generations.slice(0, 1)),
    'a fill (a Lua script)': () => store.fill([entry], generations.slice(0, 1), 'x', { ttlMs: 1_000 }, true),
    'an invalidation (a pipeline)': () => store.invalidate(generations),
    'a database change\'s invalidation (a Lua script in a pipeline)': () => store.invalidate(generations, '1'),
    'a lease (SET NX)': () => store.lease(entry.key, 'x', 1_000),
    'the breaker\'s probe (PING)': () => redisClient.ping(),
    'the invalidation bus\'s PUBLISH': () => redisClient.publish('deadline', 'x'),
    'the invalidation bus\'s SUBSCRIBE': () => subscriber.subscribe('deadline'),
    'ioredis\' own commandTimeout, for comparison': () => theirs.ping()
  }
  const started = performance.now()
  const outcomes = await Promise.all(Object.values(sent).map((send) => send().then(
    () => ({ ok: true, ms: performance.now() - started }),
    () => ({ ok: false, ms: performance.now() - started }))))
  resume(pid)
  Object.keys(sent).forEach((what, i) => {
    const { ok, ms } = outcomes[i]!
    t.notOk(ok, `${what} failed`)
    // Longer only when this process stalls meanwhile (a fresh window each time, up to the limit).
    t.ok(ms >= WINDOW_MS - CLOCK_MS && ms < COMMAND_DEADLINE.windows * WINDOW_MS + 1_000,
      `${what}: after ${ms.toFixed(0)} ms (window ${WINDOW_MS} ms)`)
  })
})

function resume (pid: number): void {
  try {
    process.kill(pid, 'SIGCONT')
  } catch {}
}
