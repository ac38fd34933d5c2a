import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { freePort } from '../../src/free-port.ts'
import { CRASH_WINDOW_MS, restartDelay, workerCount } from '../../src/workers.ts'
import { availableParallelism } from 'node:os'
import { within } from '../support/waiting.ts'
import { BOOT_TIMEOUT_MS, isStarted, startCluster } from '../support/worker-cluster.ts'

t.test('a crashed worker is replaced at once, then after 1 s, 2 s, … up to 30 s ' +
  'while crashes keep coming', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7, 8, 50].map(restartDelay),
    [0, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000])
  t.equal(CRASH_WINDOW_MS, 60_000, 'crashes a minute apart count as unrelated')
})

t.test('WORKERS=auto means one worker per CPU this process may use', async (t) => {
  t.equal(workerCount('auto'), availableParallelism())
  t.equal(workerCount(3), 3)
})

t.test('WORKERS=2 with the memory cache is refused at boot, with a message naming both variables', async (t) => {
  const cases: Array<Record<string, string>> = [
    {}, // memory is the default without REDIS_URL
    { CACHE_MODE: 'memory', REDIS_URL: 'redis://127.0.0.1:6379' }
  ]
  for (const env of cases) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { PATH: process.env.PATH, WORKERS: '2', PORT: String(await freePort()), ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    let stderr = ''
    child.stderr.on('data', (chunk) => { stderr += chunk })
    const [code] = await within(once(child, 'exit'), 30_000, 'the refused server\'s exit')
    t.equal(code, 1, JSON.stringify(env))
    t.match(stderr, /invalid environment: .*WORKERS=2: CACHE_MODE="memory"/)
  }
})

t.test('a worker that fails at boot stops the cluster: exit non-zero, the worker\'s error shown, ' +
  'no fork loop', async (t) => {
  // Nothing listens there: every worker's first PostgreSQL connection is refused.
  const cluster = await startCluster(t, {
    CACHE_MODE: 'off',
    DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/nothing`
  }, { ready: false })
  const exit = await within(cluster.exited, BOOT_TIMEOUT_MS, 'the primary\'s exit')
  const stopping = 'worker exited before it listened: stopping (its error is above)'
  await cluster.waitForLog(`"${stopping}"`, (entry) => entry.msg === stopping, 5_000).catch(() => undefined)

  t.equal(exit.code, 1, 'the primary exits 1')
  const output = cluster.output.join('\n')
  t.match(output, /ECONNREFUSED/, 'the worker\'s own error is in the output')
  t.match(output, /worker exited before it listened/)
  t.equal(cluster.logs.filter(isStarted).length, 0, 'no worker ever listened')
  const workers = new Set(cluster.logs.filter((entry) => /^worker exited/.test(entry.msg)).map((entry) => entry.worker))
  t.same([...workers].sort(), [1, 2], 'the two workers it forked, and no replacement')
  t.same(await cluster.workerPids(), [], 'no process left behind')
})
