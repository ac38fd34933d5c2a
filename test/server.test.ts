import { spawn } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createTestDatabase, embeddedDataDir, withClient } from './support/database.ts'
import { eventInput } from './support/fixtures.ts'
import { exitOf, startServerProcess } from './support/server-process.ts'
import { killQuietly } from './support/worker-cluster.ts'

t.test('a bad environment stops the server at once with a message naming the variable', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, CACHE_MODE: 'sometimes' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const { code } = await exitOf(child)
  t.equal(code, 1)
  t.match(stderr, /invalid environment: CACHE_MODE="sometimes"/)
})

t.test('SIGTERM lets an in-flight request finish, then exits 0', async (t) => {
  const database = await createTestDatabase(t)
  const server = await startServerProcess(t, { DATABASE_URL: database })
  t.equal((await fetch(`${server.url}/health`)).status, 200)

  // Hold a lock so the next request is still waiting on PostgreSQL when SIGTERM arrives.
  await withClient(database, async (client) => {
    await client.query('BEGIN')
    await client.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE')
    const inFlight = fetch(`${server.url}/events`)
    await new Promise((resolve) => setTimeout(resolve, 300))
    server.process.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.equal(server.process.exitCode, null, 'still draining')
    await client.query('COMMIT')
    const response = await inFlight
    t.equal(response.status, 200, 'the in-flight request completed')
    t.same(await response.json(), { count: 0, next: null, previous: null, results: [] })
  })
  const { code, ms } = await exitOf(server.process)
  t.equal(code, 0)
  t.ok(ms < 10_000, `exited ${ms} ms after the request finished`)
  t.match(server.logs.join('\n'), /"signal":"SIGTERM".*"msg":"closing"/)
})

t.test('with no DATABASE_URL it runs an embedded PostgreSQL, and stops it on exit', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'eventcache-server-'))
  await chmod(root, 0o755) // as root, the server runs PostgreSQL as `postgres`, which must reach the data
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const dataDir = join(root, 'postgres')

  const server = await startServerProcess(t, { EMBEDDED_POSTGRES_DIR: dataDir })
  const created = await fetch(`${server.url}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'DjangoCon US 2020', date: '2020-07-15', location: 'San Diego, CA' })
  })
  t.equal(created.status, 201)
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
  t.doesNotThrow(() => process.kill(pid, 0), `PostgreSQL (pid ${pid}) is running on the data directory`)

  server.process.kill('SIGINT')
  t.equal((await exitOf(server.process)).code, 0)
  t.throws(() => process.kill(pid, 0), 'PostgreSQL stopped with the app')

  const again = await startServerProcess(t, { EMBEDDED_POSTGRES_DIR: dataDir })
  const list = await (await fetch(`${again.url}/events`)).json() as { count: number }
  t.equal(list.count, 1, 'data persists across restarts')
  again.process.kill('SIGTERM')
  t.equal((await exitOf(again.process)).code, 0)
})

t.test('Ctrl-C with the embedded PostgreSQL closes every connection before stopping it: exit 0, nothing logged ' +
  'above info', async (t) => {
  const dataDir = await embeddedDataDir(t, 'server')

  // With API_KEYS set the server has nothing to warn about at start-up: any warning is the shutdown's.
  const key = 'shutdown-test-key-0123456789'
  const server = await startServerProcess(t, { EMBEDDED_POSTGRES_DIR: dataDir, API_KEYS: key })
  const created = await fetch(`${server.url}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(eventInput())
  })
  t.equal(created.status, 201)
  // Different pages at once (one load each), so that the pool opens more than one connection.
  const reads = await Promise.all([1, 2, 3, 4].map((limit) => fetch(`${server.url}/events?limit=${limit}`)))
  t.same(reads.map((read) => read.status), [200, 200, 200, 200])

  // A connection still open when PostgreSQL stops is terminated under its client, but its session usually
  // closes first: a race. Here the pool's sessions are held still (SIGSTOP), as a busy machine might hold them,
  // until PostgreSQL has been asked to stop, or for a second: a connection the app did not wait for is then
  // terminated for certain, and one it waits for closes once let go. (The change listener's session, closed
  // before the pool, is left alone: application_name 'eventcache-changes'.)
  const embedded = /embedded PostgreSQL listening on (127\.0\.0\.1:\d+)/.exec(server.logs.join('\n'))?.[1]
  const sessions = await withClient(`postgres://postgres@${embedded}/postgres`, async (client) => {
    const sql = "SELECT pid FROM pg_stat_activity WHERE application_name = 'eventcache'"
    return (await client.query<{ pid: number }>(sql)).rows.map((row) => row.pid)
  })
  t.ok(sessions.length > 0, `the pool has ${sessions.length} connection(s)`)
  t.teardown(() => { for (const pid of sessions) killQuietly(pid, 'SIGCONT') })
  for (const pid of sessions) process.kill(pid, 'SIGSTOP')

  server.process.kill('SIGINT')
  const stopAsked = async () => (await readFile(`${dataDir}.log`, 'utf8')).includes('received fast shutdown request')
  for (let waited = 0; waited < 1_000 && !await stopAsked(); waited += 20) await sleep(20)
  for (const pid of sessions) process.kill(pid, 'SIGCONT')

  t.equal((await exitOf(server.process)).code, 0)
  const output = server.logs.join('\n')
  const aboveInfo = server.logs.filter((line) => !/^\{"level":(10|20|30),/.test(line))
  t.same(aboveInfo.map((line) => line.slice(0, 300)), [], 'every line is a log entry at info or below')
  t.notMatch(output, /terminating connection/, 'no connection was terminated under its client')
  const serverLog = await readFile(`${dataDir}.log`, 'utf8')
  t.notMatch(serverLog, /terminating connection due to administrator command/, 'nor by PostgreSQL\'s account')
})
