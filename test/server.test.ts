import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import { createTestDatabase, withClient } from './support/database.ts'

interface Server { process: ChildProcess, url: string, logs: string[] }

/** Starts src/server.ts as `npm start` would (a separate process), on a free port. */
async function startServer (t: Test, env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const logs: string[] = []
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line))
  // Keep reading stdout for the whole life of the process: a closed pipe would make its logger fail.
  return await new Promise<Server>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line)
      const listening = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (listening) resolve({ process: child, url: listening[1]!, logs })
    })
    child.once('exit', () => reject(new Error(`server exited before listening:\n${logs.join('\n')}`)))
  })
}

async function exitOf (child: ChildProcess): Promise<{ code: number | null, ms: number }> {
  const started = Date.now()
  const [code] = child.exitCode !== null ? [child.exitCode] : await once(child, 'exit')
  return { code, ms: Date.now() - started }
}

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
  const server = await startServer(t, { DATABASE_URL: database })
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

  const server = await startServer(t, { EMBEDDED_POSTGRES_DIR: dataDir })
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

  const again = await startServer(t, { EMBEDDED_POSTGRES_DIR: dataDir })
  const list = await (await fetch(`${again.url}/events`)).json() as { count: number }
  t.equal(list.count, 1, 'data persists across restarts')
  again.process.kill('SIGTERM')
  t.equal((await exitOf(again.process)).code, 0)
})
