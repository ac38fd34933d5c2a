import fp from 'fastify-plugin'
import type { Cluster, Redis } from 'ioredis'
import { closeRedisClient, createRedisClient } from '../src/redis/client.ts'
import { usableWithin } from '../src/redis/usable.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Redis client the cache uses (registered only in redis mode): one Redis, or a Redis Cluster. */
    redis: Redis | Cluster
  }
}

/** A Redis that is down costs the boot this wait and no more: Redis is never a boot dependency. */
const BOOT_WAIT_MS = 1_000

/** `app.redis`: one Redis or a Redis Cluster, configured for a cache (src/redis/client.ts). */
export default fp(async function redis (app) {
  const client = createRedisClient(app.config)
  // Without a listener an 'error' event crashes the process; the cache's breaker reports outages.
  client.on('error', (error) => app.log.debug({ err: error }, 'redis connection error'))
  app.decorate<Redis | Cluster>('redis', client)
  // A reachable Redis gets a moment to connect, so that the first requests can use it.
  await usableWithin(client, BOOT_WAIT_MS)
  app.addHook('onClose', () => closeRedisClient(client))
}, { name: 'redis' })
