import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { watchCommands } from './command-deadline.ts'
import type { Config } from '../config.ts'
import { parseClusterNodes } from './cluster.ts'

/**
 * Redis, configured for a cache rather than a queue: a command either answers within
 * REDIS_COMMAND_TIMEOUT_MS or fails, and nothing waits for a connection.
 * - `enableOfflineQueue: false`: while disconnected, commands fail at once instead of queueing
 *   (a queued cache read is worth less than the PostgreSQL read it delays).
 * - every connection's commands have a deadline (watchCommands): a stalled Redis must cost tens of ms,
 *   not a hang. Not ioredis' `commandTimeout`, which fails a command whose answer is already in the
 *   socket when this process was not running (see CommandDeadlines).
 * - `maxRetriesPerRequest: 0`: a command cut off by a disconnect fails rather than being resent.
 * - reconnects back off up to 2 s between attempts and never give up, so the cache comes back
 *   by itself when Redis does.
 *
 * With REDIS_CLUSTER_NODES it is a Redis Cluster client configured the same way (clusterClient).
 * Not @fastify/redis, which makes Redis a boot dependency: docs/operations.md#redis.
 */
export function createRedisClient ({
  REDIS_URL,
  REDIS_CLUSTER_NODES,
  REDIS_COMMAND_TIMEOUT_MS
}: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'REDIS_COMMAND_TIMEOUT_MS'>): Redis | Cluster {
  if (REDIS_CLUSTER_NODES) return clusterClient(REDIS_CLUSTER_NODES, REDIS_COMMAND_TIMEOUT_MS)
  if (!REDIS_URL) throw new Error('a Redis client needs REDIS_URL or REDIS_CLUSTER_NODES')
  const client = new Redis(REDIS_URL, {
    ...nodeOptions(),
    enableOfflineQueue: false,
    retryStrategy: reconnectDelay
  })
  watchCommands(client, REDIS_COMMAND_TIMEOUT_MS)
  return client
}

/** Quits a client that is connected (its replies arrive first), and drops one that is not. */
export async function closeRedisClient (client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
  else client.disconnect()
}

/** What every connection this app opens to a Redis node shares (see createRedisClient). */
export function nodeOptions () {
  return {
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    connectionName: 'eventcache'
  } as const satisfies RedisOptions
}

/** Reconnects back off up to 2 s between attempts and never give up. */
export function reconnectDelay (attempt: number): number {
  return Math.min(100 * attempt, 2_000)
}

/**
 * The same behaviour on a Redis Cluster. Options split in two: the cluster's own, and
 * `redisOptions` for the connection ioredis opens to each node. Why each has its value:
 * docs/redis-cluster.md#the-client-options-that-matter.
 * - `enableOfflineQueue: false` (cluster level; ioredis forbids it in `redisOptions`): while the
 *   cluster is not ready, commands fail at once.
 * - `clusterRetryStrategy`: the single client's back-off, never giving up.
 * - `enableReadyCheck: false`: ioredis' check can make a fresh client start over; `usable` checks instead.
 * - `slotsRefreshTimeout`: a node that does not send the slot map within a second is given up on.
 * - `retryDelayOnFailover: 0`: a command for a slot whose master is gone fails at once (a BYPASS).
 * - `slotsRefreshInterval`: the slot map is asked again every 5 s, even when no command is redirected.
 * - `redisOptions`: per node, the single client's connect timeout and no resend; each node's
 *   connection gets the single client's command deadlines when the cluster makes it.
 */
function clusterClient (nodes: string, commandTimeoutMs: number): Cluster {
  const cluster = new Cluster(parseClusterNodes(nodes), {
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelay,
    enableReadyCheck: false,
    slotsRefreshTimeout: 1_000,
    retryDelayOnFailover: 0,
    slotsRefreshInterval: 5_000,
    redisOptions: nodeOptions()
  })
  // With the offline queue off, a command that finds its node still connecting fails: connect to
  // each node as soon as the cluster learns of it, not on its first command.
  cluster.on('+node', (node: Redis) => {
    watchCommands(node, commandTimeoutMs)
    node.connect().catch(() => {})
  })
  return cluster
}
