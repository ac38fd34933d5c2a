import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createTestDatabase, storedEvents } from '../support/database.ts'
import { aroundSignal, postJson, statuses, writeAndReadUntil } from '../support/load.ts'

t.test('SIGTERM during load: in-flight requests complete, new ones are refused cleanly, exit within 10 s, ' +
  'no acknowledged write lost', async (t) => {
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

  let sigtermAt = Infinity
  const stopped = new AbortController()
  child.once('exit', () => stopped.abort())
  const { samples, done } = writeAndReadUntil(stopped.signal, {
    writeUrl: `${base}/events`,
    write: () => ({ name: 'w', date: '2020-01-01', location: 'x' }),
    readUrl: `${base}/events/1`
  })
  await sleep(1_500)
  sigtermAt = performance.now()
  child.kill('SIGTERM')
  const [code] = await exited
  const exitedAfter = performance.now() - sigtermAt
  await done

  // Requests sent comfortably before the signal were in flight or done: they must have succeeded.
  const { before, after } = aroundSignal(samples, sigtermAt)
  t.ok(before.length > 100, `${before.length} requests before SIGTERM`)
  t.ok(before.every((sample) => sample.status === 200 || sample.status === 201),
    'every request sent before SIGTERM completed successfully')
  t.ok(after.every((sample) => [200, 201, 503, 0].includes(sample.status)),
    `after SIGTERM: only completions, 503 or refused connections (${statuses(after)})`)
  t.ok(after.every((sample) => sample.ms < 10_000), 'nothing hangs')
  t.equal(code, 0, 'exit code 0')
  t.ok(exitedAfter < 10_000, `exited ${exitedAfter.toFixed(0)} ms after SIGTERM`)

  const acknowledged = samples.flatMap((sample) => sample.id === undefined ? [] : [sample.id])
  t.equal(await storedEvents(database, acknowledged), acknowledged.length,
    `all ${acknowledged.length} acknowledged writes are in the database`)
  const refused = after.filter((s) => s.status === 0).length
  t.comment(`${samples.length} requests; SIGTERM after ${before.length}; after it: ` +
    `${after.filter((s) => s.status === 503).length} × 503, ${refused} refused; ` +
    `exit ${exitedAfter.toFixed(0)} ms after the signal`)
})
