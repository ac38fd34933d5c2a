// WORKERS=2 on a real PostgreSQL and a throw-away Redis: one cluster, started once, then observed
// in turn (both workers serving, read-your-writes across them, a worker killed and replaced), and
// finally stopped with SIGTERM under load.
import type http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { readMigrations } from '../../src/db/migrate.ts'
import { createTestDatabase, storedEvents, withClient } from '../support/database.ts'
import { eventInput } from '../support/fixtures.ts'
import { aroundSignal, statuses, writeAndReadUntil } from '../support/load.ts'
import { startRedisServer } from '../support/redis-server.ts'
import { within } from '../support/waiting.ts'
import {
  BOOT_TIMEOUT_MS, connectionPerWorker, isStarted, type LogEntry, postEventVia, request, servedBy, startCluster
} from '../support/worker-cluster.ts'

const redis = await startRedisServer(t)
const database = await createTestDatabase(t)
const cluster = await startCluster(t, {
  CACHE_MODE: 'redis',
  REDIS_URL: redis.url,
  // A Redis command timing out under a loaded CI machine would turn a hit into a (correct)
  // BYPASS; a second keeps the cache in play so the cross-worker reads below exercise it.
  REDIS_COMMAND_TIMEOUT_MS: '1000',
  DATABASE_URL: database,
  RATE_LIMIT_WRITES: '1000000'
})

t.test('two worker processes serve the port, and both answer requests', async (t) => {
  const pids = await cluster.workerPids()
  t.equal(pids.length, 2, `the primary has two node children: ${pids.join(', ')}`)
  const started = cluster.logs.filter(isStarted).map((entry) => entry.workerPid!).sort((a, b) => a - b)
  t.same(started, pids, 'the primary logged each of them started, once')

  // Each request on a new connection: node:cluster hands connections to the workers in turn.
  const servers = new Set<number>()
  const answered = new Set<number>()
  for (let i = 0; i < 10; i++) {
    const from = cluster.logs.length
    const reply = await request(`${cluster.base}/events`)
    answered.add(reply.status)
    servers.add(await servedBy(cluster, reply.localPort, from))
  }
  t.same([...answered], [200], '10 requests, each on a new connection, all answered')
  t.same([...servers].sort((a, b) => a - b), pids,
    'requests were served by both workers (each request log line names its pid)')

  const clientList = String(await redis.command('CLIENT', 'LIST')).split('\n')
  const clients = clientList.filter((line) => / name=eventcache /.test(line))
  t.equal(clients.length, 2, 'Redis sees one eventcache connection per worker')

  // Both workers migrated the same fresh database at boot; the advisory lock let one do it.
  const migrations = await readMigrations()
  const applied = await withClient(database, async (client) => {
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')
    return rows.map((row) => row.version)
  })
  t.same(applied, migrations.map((migration) => migration.version), 'each migration recorded once')
  t.equal(cluster.logs.filter((entry) => entry.msg === 'applied database migrations').length, 1,
    'one worker applied them, the other found them applied')
})

t.test('a write through one worker is read through the other: 200 write→read pairs, none stale', async (t) => {
  // Two keep-alive connections, each pinned to the worker that accepted it, one per worker.
  const pinned = await connectionPerWorker(t, cluster)
  t.equal(pinned.size, 2, 'one connection to each worker')
  const [a, b] = [...pinned.values()] as [http.Agent, http.Agent]

  const id = await postEventVia(t, cluster, a)

  const localPorts = new Set<number>()
  let stale = 0
  let hits = 0
  for (let i = 0; i < 200; i++) {
    const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a]
    // The reader caches the current state first, so a missed invalidation would show as a stale HIT.
    const before = await request(`${cluster.base}/events/${id}`, { agent: reader })
    const write = await request(`${cluster.base}/events/${id}`, {
      method: 'PATCH',
      body: { name: `version ${i}` },
      agent: writer
    })
    const after = await request(`${cluster.base}/events/${id}`, { agent: reader })
    const list = await request(`${cluster.base}/events?limit=5`, { agent: reader })
    for (const reply of [before, write, after, list]) localPorts.add(reply.localPort)
    if (write.status !== 200 || after.status !== 200 || list.status !== 200) {
      throw new Error(`pair ${i}: ${write.status} ${after.status} ${list.status}`)
    }
    if ((JSON.parse(after.body) as { name: string }).name !== `version ${i}`) stale++
    if ((JSON.parse(list.body) as { results: Array<{ name: string }> }).results[0]?.name !== `version ${i}`) stale++
    if (before.headers['x-cache'] === 'HIT') hits++
  }
  t.equal(localPorts.size, 2,
    'every request went over the two pinned connections, so each pair crossed workers')
  t.equal(stale, 0, '0 stale reads of 400 (detail and list) after writes on the other worker')
  t.ok(hits > 100, `the reader's cache was warm before each write (${hits} of 200 were HITs)`)
  t.comment(`200 write→read pairs across workers: 0 stale; ${hits} warm HITs before the writes`)
})

t.test('a worker killed with SIGKILL is replaced, and the port keeps answering', async (t) => {
  const [victim, survivor] = await cluster.workerPids() as [number, number]
  const from = cluster.logs.length

  // A new connection every 20 ms for the whole replacement.
  const samples: Array<{ at: number, status: number }> = []
  const polling = new AbortController()
  const poller = (async () => {
    while (!polling.signal.aborted) {
      const at = Date.now()
      const status = await request(`${cluster.base}/health/live`).then((reply) => reply.status, () => 0)
      samples.push({ at, status })
      await sleep(20)
    }
  })()

  await sleep(500)
  const killedAt = Date.now()
  process.kill(victim, 'SIGKILL')
  const exit = await cluster.waitForLog(
    `the primary logging worker ${victim} replaced`,
    (entry) => entry.msg === 'worker exited unexpectedly: replacing it' && entry.workerPid === victim,
    10_000,
    from
  )
  const replacement = await cluster.waitForLog(
    'the primary logging a new worker started',
    (entry) => isStarted(entry) && entry.workerPid !== victim && entry.workerPid !== survivor,
    BOOT_TIMEOUT_MS,
    from
  )
  await sleep(500)
  polling.abort()
  await within(poller, 15_000, 'the poller')

  t.equal(exit.signal, 'SIGKILL')
  t.equal(exit.restartInMs, 0, 'the first crash in a minute is replaced at once')
  t.same(await cluster.workerPids(), [survivor, replacement.workerPid!].sort((a, b) => a - b),
    'two workers again: the survivor and a new one')
  const replacedMs = replacement.time - killedAt
  const failed = samples.filter((sample) => sample.status !== 200)
  const afterExitNoticed = samples.filter((sample) => sample.at > (exit.time as number))
  t.ok(samples.length >= 5, `${samples.length} requests during the replacement`)
  t.ok(afterExitNoticed.every((sample) => sample.status === 200),
    'every request after the primary noticed the exit was answered by the survivor or the replacement')
  t.ok(failed.length <= 1, `at most the one connection the dying worker held failed (${failed.length})`)
  t.comment(`replacement listening ${replacedMs} ms after SIGKILL; ` +
    `${samples.length} requests meanwhile, ${failed.length} failed`)
})

t.test('SIGTERM under load: in-flight requests complete, every worker drains, exit 0 within 10 s', async (t) => {
  const from = cluster.logs.length
  const workers = await cluster.workerPids()
  let sigtermAt = Infinity
  const stopped = new AbortController()
  cluster.primary.once('exit', () => stopped.abort())
  const { samples, done } = writeAndReadUntil(stopped.signal, {
    writeUrl: `${cluster.base}/events`,
    write: () => eventInput({ name: 'load' }),
    readUrl: `${cluster.base}/events?limit=5`
  })
  await sleep(1_500)
  sigtermAt = performance.now()
  const signalledAt = Date.now()
  cluster.primary.kill('SIGTERM')
  const exit = await within(cluster.exited, 15_000, 'the primary\'s exit')
  const exitedAfter = exit.at - signalledAt
  await within(done, 15_000, 'the load clients')

  const { before, after } = aroundSignal(samples, sigtermAt)
  t.ok(before.length > 16, `${before.length} requests before SIGTERM`)
  t.ok(before.every((sample) => sample.status === 200 || sample.status === 201),
    'every request sent before SIGTERM completed successfully')
  t.ok(after.every((sample) => [200, 201, 503, 0].includes(sample.status)),
    `after SIGTERM: only completions, 503 or refused connections (${statuses(after)})`)
  t.equal(exit.code, 0, 'the primary exits 0')
  t.ok(exitedAfter < 10_000, `exited ${exitedAfter} ms after SIGTERM`)

  const since = cluster.logs.slice(from)
  const closing = (pid: number) => since.filter((entry: LogEntry) => entry.pid === pid && entry.msg === 'closing')
  t.ok(workers.every((pid) => closing(pid).length === 1 && closing(pid)[0]!.signal === 'SIGTERM'),
    'each worker got the forwarded SIGTERM and closed once')
  const exits = since.filter((entry) => entry.msg === 'worker exited')
  t.same(exits.map((entry) => entry.code), [0, 0], 'both workers drained and exited 0')

  const acknowledged = samples.flatMap((sample) => sample.id === undefined ? [] : [sample.id])
  t.equal(await storedEvents(database, acknowledged), acknowledged.length,
    `all ${acknowledged.length} acknowledged writes are in the database`)
  const after_ = (entries: LogEntry[]) => entries.map((entry) => `+${entry.time - signalledAt}`).join('/')
  const refused = after.filter((s) => s.status === 0).length
  t.comment(`${samples.length} requests; ${before.length} before SIGTERM; after it: ` +
    `${after.filter((s) => s.status === 503).length} × 503, ${refused} refused; ` +
    `primary exited ${exitedAfter} ms after the signal`)
  const closings = since.filter((entry) => entry.msg === 'closing')
  const primaryClosing = after_(closings.filter((entry) => !workers.includes(entry.pid)))
  const workersClosing = after_(closings.filter((entry) => workers.includes(entry.pid)))
  t.comment(`ms after the signal: primary closing ${primaryClosing}, workers closing ${workersClosing}, ` +
    `workers exited ${after_(exits)}`)
})
