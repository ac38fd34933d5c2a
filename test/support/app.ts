import type { Test } from 'tap'
import type { Cluster, Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp, type BuildOptions } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { usable } from '../../src/redis/usable.ts'
import { createTestDatabase } from './database.ts'

export type TestApp = Awaited<ReturnType<typeof buildApp>>

/**
 * The app as server.ts builds it, from an environment: on a database of its own unless the test
 * passes DATABASE_URL (to share one between instances), quiet, closed when the test ends.
 */
export async function buildTestApp (
  t: Test,
  env: Record<string, string> = {},
  options: BuildOptions = {}
): Promise<TestApp> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    PUBLIC_URL: 'http://api.test',
    ...env,
    DATABASE_URL: env.DATABASE_URL ?? await createTestDatabase(t)
  })
  const app = await buildApp(config, options)
  t.teardown(() => app.close())
  await app.ready()
  if (app.hasDecorator('redis')) await settled(app.redis)
  return app
}

/**
 * The app waits at most a second at boot for Redis (or a cluster and all its masters), then serves
 * BYPASS until it is there: right for production, but on a loaded CI machine a connection can
 * take longer, and the suites asserting exact HIT/MISS would see a (correct) BYPASS. So a test app
 * is handed over once Redis is usable, or clearly down (refused: a test that wants it down), or
 * after 5 s.
 */
async function settled (redis: Redis | Cluster): Promise<void> {
  const state = { ready: false }
  usable(redis).then(() => { state.ready = true }, () => {})
  const down = () => ['reconnecting', 'close', 'end'].includes(redis.status)
  for (let waited = 0; waited < 5_000 && !state.ready && !down(); waited += 20) await sleep(20)
}

/** The test app on a real socket (127.0.0.1, a free port), closed when the test ends. */
export async function listeningTestApp (t: Test, env: Record<string, string>): Promise<{ app: TestApp, base: string }> {
  // One test client is one IP: the write limit would turn a load's writes into 429s.
  const app = await buildTestApp(t, { RATE_LIMIT_WRITES: '1000000', ...env })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, base }
}

/** Collects an app's log lines (pass as `logStream`, with a LOG_LEVEL that lets them through). */
export function logCollector () {
  const lines: Array<Record<string, unknown>> = []
  return { lines, stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } }
}
