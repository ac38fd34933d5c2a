import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Redis client the cache uses (registered only in redis mode). */
    redis: Redis
  }
}

/**
 * Redis, configured for a cache rather than a queue: a command either answers within
 * REDIS_COMMAND_TIMEOUT_MS or fails, and nothing waits for a connection.
 * - `enableOfflineQueue: false`: while disconnected, commands fail at once instead of queueing
 *   (a queued cache read is worth less than the PostgreSQL read it delays).
 * - `commandTimeout`: ioredis has none by default; a stalled Redis must cost tens of ms, not a hang.
 * - `maxRetriesPerRequest: 0`: a command cut off by a disconnect fails rather than being resent.
 * - reconnects back off up to 2 s between attempts and never give up, so the cache comes back
 *   by itself when Redis does.
 *
 * Why not @fastify/redis: it holds the app's boot until Redis answers `ready` (with Redis down,
 * `ready()` fails after the plugin timeout, whatever the client options), and the API must boot
 * and serve without Redis. This plugin does what it does (one `redis` decorator, closed on
 * close) without that wait.
 */
const BOOT_WAIT_MS = 1_000

export default fp(async function redis (app) {
  const { REDIS_URL, REDIS_COMMAND_TIMEOUT_MS } = app.config
  if (!REDIS_URL) throw new Error('the redis plugin needs REDIS_URL')

  const client = new Redis(REDIS_URL, {
    enableOfflineQueue: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    connectionName: 'eventcache'
  })
  // Without a listener an 'error' event crashes the process; the cache's breaker reports outages.
  client.on('error', (error) => app.log.debug({ err: error }, 'redis connection error'))
  app.decorate('redis', client)

  // Give a reachable Redis a moment to connect so the first requests can use it; a Redis that is
  // down costs the boot at most this second and no more.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, BOOT_WAIT_MS)
    client.once('ready', () => {
      clearTimeout(timer)
      resolve()
    })
  })

  app.addHook('onClose', async () => {
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
    else client.disconnect()
  })
}, { name: 'redis' })
