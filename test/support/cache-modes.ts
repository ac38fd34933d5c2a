import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { testClusterNodes } from './redis-cluster.ts'
import { testRedisUrl } from './redis-server.ts'

export type CacheTestMode = 'memory' | 'redis' | 'tiered' | 'cluster'

/**
 * The cache suites run once per store ('cluster': the Redis store on a Redis Cluster).
 * `npm test` runs memory, redis and tiered; `npm run test:cluster` sets CACHE_TEST_MODES=cluster and
 * runs the same suites on a throw-away cluster three files at a time (see the README's Tests section).
 */
export const CACHE_TEST_MODES = (process.env.CACHE_TEST_MODES ?? 'memory,redis,tiered').split(',') as CacheTestMode[]

/** Environment for a cache mode, with a key prefix of its own so tests can share one Redis. */
export async function cacheEnv (t: Test, mode: CacheTestMode, redisUrl?: string): Promise<Record<string, string>> {
  const prefix = `test-${process.pid}-${randomBytes(4).toString('hex')}`
  if (mode === 'memory') return { CACHE_MODE: 'memory', CACHE_PREFIX: prefix }
  // These suites assert exact HIT/MISS outcomes, which hold only while Redis answers: on a loaded
  // CI machine a 50 ms command can time out and turn into a (correct) BYPASS. The failure suites
  // set the production timeout themselves and assert what a timeout does.
  const timeout = { REDIS_COMMAND_TIMEOUT_MS: '1000' }
  if (mode === 'cluster') {
    return { CACHE_MODE: 'redis', REDIS_CLUSTER_NODES: await testClusterNodes(), CACHE_PREFIX: prefix, ...timeout }
  }
  return { CACHE_MODE: mode, REDIS_URL: redisUrl ?? await testRedisUrl(t), CACHE_PREFIX: prefix, ...timeout }
}
