// Shutdown of a WORKERS=2 cluster by signal. A request is held in flight by a table lock taken in
// the test, so "the drain waits for it" is observed rather than hoped for.
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import t, { type Test } from 'tap'
import { createTestDatabase, withClient } from '../support/database.ts'
import { within } from '../support/waiting.ts'
import { type Cluster, type Reply, request, startCluster, stillRunning } from '../support/worker-cluster.ts'

/**
 * Runs `during` while a GET /events is held in flight behind a table lock taken here; the lock
 * ends with the transaction (`during` may COMMIT to let the request finish).
 */
async function holdingARequest (
  cluster: Cluster,
  database: string,
  during: (inFlight: Promise<Reply>, client: pg.Client) => Promise<void>
): Promise<void> {
  await withClient(database, async (client) => {
    await client.query('BEGIN')
    await client.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE')
    const inFlight = request(`${cluster.base}/events`)
    inFlight.catch(() => {}) // a test that cuts it off looks at the rejection itself
    await sleep(300)
    await during(inFlight, client)
    await client.query('ROLLBACK')
  })
}

async function clusterOnItsOwnDatabase (
  t: Test,
  env: Record<string, string> = {}
): Promise<{ cluster: Cluster, database: string }> {
  const database = await createTestDatabase(t)
  const cluster = await startCluster(t, { CACHE_MODE: 'off', DATABASE_URL: database, ...env }, { detached: true })
  return { cluster, database }
}

t.test('Ctrl-C (SIGINT to the whole process group) drains each worker once, the in-flight request completes, ' +
  'exit 0', async (t) => {
  const { cluster, database } = await clusterOnItsOwnDatabase(t)
  const workers = await cluster.workerPids()
  const from = cluster.logs.length

  await holdingARequest(cluster, database, async (inFlight, client) => {
    // What a terminal does: the primary and both workers get SIGINT at once, and the primary
    // forwards it, so each worker sees it twice.
    process.kill(-cluster.primary.pid!, 'SIGINT')
    await sleep(500)
    t.equal(cluster.primary.exitCode, null, 'still draining while the request waits on PostgreSQL')
    await client.query('COMMIT')
    const reply = await within(inFlight, 10_000, 'the in-flight request')
    t.equal(reply.status, 200, 'the in-flight request completed')
    t.equal(reply.headers.connection, 'close', 'and told its client the connection is closing')
  })
  const exit = await within(cluster.exited, 15_000, 'the primary\'s exit')
  t.equal(exit.code, 0, 'the primary exits 0')

  const since = cluster.logs.slice(from)
  for (const pid of workers) {
    const closings = since.filter((entry) => entry.pid === pid && entry.msg === 'closing')
    t.same(closings.map((entry) => entry.signal), ['SIGINT'], `worker ${pid} closed once, on SIGINT`)
  }
  const exits = since.filter((entry) => entry.msg === 'worker exited')
  t.same(exits.map((entry) => entry.code), [0, 0], 'both workers exited 0')
  t.notMatch(cluster.output.join('\n'), /second SIGINT/, 'no worker took the forwarded copy as a second Ctrl-C')
})

t.test('a second signal to the primary kills the workers at once and exits 1', async (t) => {
  const { cluster, database } = await clusterOnItsOwnDatabase(t)
  const workers = await cluster.workerPids()

  await holdingARequest(cluster, database, async (held) => {
    const inFlight = held.then((reply) => reply.status, () => 0)
    cluster.primary.kill('SIGTERM')
    await sleep(500)
    t.equal(cluster.primary.exitCode, null, 'draining')
    const secondAt = Date.now()
    cluster.primary.kill('SIGTERM')
    const exit = await within(cluster.exited, 5_000, 'the primary\'s exit')
    t.equal(exit.code, 1, 'the primary exits 1')
    t.ok(exit.at - secondAt < 2_000, `${exit.at - secondAt} ms after the second signal`)
    t.equal(await within(inFlight, 10_000, 'the cut request'), 0, 'the held request was cut off, as asked')
  })
  t.same(await stillRunning(workers), [], 'both workers are gone')
  t.match(cluster.output.join('\n'), /second signal: killing the workers/)
})

t.test('a drain that outlasts 10 s is given up: the primary kills the workers and exits 1', async (t) => {
  // The held request must outlive the grace period, so PostgreSQL must not cancel it first.
  const { cluster, database } = await clusterOnItsOwnDatabase(t, { DATABASE_STATEMENT_TIMEOUT_MS: '30000' })
  const workers = await cluster.workerPids()

  await holdingARequest(cluster, database, async (held) => {
    const inFlight = held.then((reply) => reply.status, () => 0)
    const signalledAt = Date.now()
    cluster.primary.kill('SIGTERM')
    const exit = await within(cluster.exited, 15_000, 'the primary\'s exit')
    const ms = exit.at - signalledAt
    t.equal(exit.code, 1, 'the primary exits 1')
    t.ok(ms >= 10_000 && ms < 12_000, `after the 10 s grace period (${ms} ms)`)
    t.equal(await within(inFlight, 10_000, 'the cut request'), 0, 'the request that never finished was cut off')
  })
  t.same(await stillRunning(workers), [], 'both workers are gone')
  t.match(cluster.output.join('\n'), /workers still running after 10000 ms: killing them/)
})
