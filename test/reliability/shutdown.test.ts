import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createTestDatabase, withClient } from '../support/database.ts'
import { postJson, type Timed, timedFetch } from '../support/load.ts'

t.test('SIGTERM during load: in-flight requests complete, new ones are refused cleanly, exit within 10 s, no acknowledged write lost', async (t) => {
  const database = await createTestDatabase(t)
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, PORT: '0', LOG_LEVEL: 'info', DATABASE_URL: database, RATE_LIMIT_WRITES: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const exited = once(child, 'exit')
  const base = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const listening = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
      if (listening) resolve(listening[1]!)
    })
  })
  await postJson(`${base}/events`, { name: 'first', date: '2020-01-01', location: 'x' })

  const samples: Array<Timed & { write: boolean, id?: number }> = []
  let sigtermAt = Infinity
  const stopped = new AbortController()
  child.once('exit', () => stopped.abort())
  const clients = Array.from({ length: 16 }, async () => {
    while (!stopped.signal.aborted) {
      const write = Math.random() < 0.3
      const sample = write
        ? await timedFetch(`${base}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'w', date: '2020-01-01', location: 'x' }) })
        : await timedFetch(`${base}/events/1`)
      samples.push({ ...sample, write, ...(write && sample.status === 201 && { id: (JSON.parse(sample.body) as { id: number }).id }) })
      if (sample.status === 0) await sleep(20) // refused: the server is gone or going
    }
  })
  await sleep(1_500)
  sigtermAt = performance.now()
  child.kill('SIGTERM')
  const [code] = await exited
  const exitedAfter = performance.now() - sigtermAt
  await Promise.all(clients)

  // Requests sent comfortably before the signal were in flight or done: they must have succeeded.
  const before = samples.filter((sample) => sample.at + sample.ms < sigtermAt || sample.at < sigtermAt - 50)
  const after = samples.filter((sample) => sample.at >= sigtermAt)
  t.ok(before.length > 100, `${before.length} requests before SIGTERM`)
  t.ok(before.every((sample) => sample.status === 200 || sample.status === 201), 'every request sent before SIGTERM completed successfully')
  t.ok(after.every((sample) => [200, 201, 503, 0].includes(sample.status)), `after SIGTERM: only completions, 503 or refused connections (${[...new Set(after.map((s) => s.status))].join(', ')})`)
  t.ok(after.every((sample) => sample.ms < 10_000), 'nothing hangs')
  t.equal(code, 0, 'exit code 0')
  t.ok(exitedAfter < 10_000, `exited ${exitedAfter.toFixed(0)} ms after SIGTERM`)

  const acknowledged = samples.flatMap((sample) => sample.id === undefined ? [] : [sample.id])
  const stored = await withClient(database, async (client) => (await client.query<{ id: number }>('SELECT id FROM events WHERE id = ANY($1)', [acknowledged])).rows.length)
  t.equal(stored, acknowledged.length, `all ${acknowledged.length} acknowledged writes are in the database`)
  t.comment(`${samples.length} requests; SIGTERM after ${before.length}; after it: ${after.filter((s) => s.status === 503).length} × 503, ${after.filter((s) => s.status === 0).length} refused; exit ${exitedAfter.toFixed(0)} ms after the signal`)
})
