import type { Cluster, Redis } from 'ioredis'
import { assertClusterReady, isCluster, masterFor } from './cluster.ts'

/**
 * One Redis is one shard. On a Redis Cluster a shard is a master, found from the client's slot map
 * as it is now (a failover or a reshard moves keys to another master, and so to its breaker).
 */
export function shardOf (redis: Redis | Cluster): (key: string) => string {
  if (!isCluster(redis)) return () => 'redis'
  return (key) => masterFor(redis, key) ?? 'cluster'
}

/**
 * A shard's probe: PING its master. ioredis drops a cluster node's connection for good when it is
 * lost (it waits for the slot map to change instead of reconnecting), so a master with no
 * connection is down while the slot map still gives it slots; once it gives it none (replaced by
 * its replica, or resharded away) it has nothing left to guard, and its breaker may close.
 */
export async function pingShard (redis: Redis | Cluster, shard: string): Promise<void> {
  if (!isCluster(redis) || shard === 'cluster') {
    await redis.ping()
    return
  }
  assertClusterReady(redis)
  const node = redis.nodes('master').find(({ options }) => `${options.host}:${options.port}` === shard)
  if (node !== undefined) await node.ping()
  else if (redis.slots.some((owners) => owners[0] === shard)) {
    throw new Error(`${shard} serves slots but has no connection`)
  }
}
