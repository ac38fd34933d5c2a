import fp from 'fastify-plugin'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { watchCommands } from '../src/cache/command-deadline.ts'
import type { Config } from '../src/config.ts'
import { isCluster, parseClusterNodes } from '../src/redis-cluster.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Redis client the cache uses (registered only in redis mode): one Redis, or a Redis Cluster. */
    redis: Redis | Cluster
  }
}

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
 *
 * Why not @fastify/redis: it holds the app's boot until Redis answers `ready` (with Redis down,
 * `ready()` fails after the plugin timeout, whatever the client options), and the API must boot
 * and serve without Redis. This plugin does what it does (one `redis` decorator, closed on
 * close) without that wait.
 */
const BOOT_WAIT_MS = 1_000

export default fp(async function redis (app) {
  const client = createRedisClient(app.config)
  // Without a listener an 'error' event crashes the process; the cache's breaker reports outages.
  client.on('error', (error) => app.log.debug({ err: error }, 'redis connection error'))
  app.decorate<Redis | Cluster>('redis', client)

  // Give a reachable Redis a moment to connect so the first requests can use it; a Redis that is
  // down costs the boot at most this second and no more.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, BOOT_WAIT_MS)
    usable(client).then(() => {
      clearTimeout(timer)
      resolve()
    })
  })

  app.addHook('onClose', async () => {
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
    else client.disconnect()
  })
}, { name: 'redis' })

/** What every connection this app opens to a Redis node shares (see the plugin's comment). */
function nodeOptions () {
  return {
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    connectionName: 'eventcache'
  } as const satisfies RedisOptions
}

/** Reconnects back off up to 2 s between attempts and never give up. */
function reconnectDelay (attempt: number): number {
  return Math.min(100 * attempt, 2_000)
}

/** The client the plugin decorates the app with (exported for tests that watch one from its start). */
export function createRedisClient ({
  REDIS_URL,
  REDIS_CLUSTER_NODES,
  REDIS_COMMAND_TIMEOUT_MS
}: Config): Redis | Cluster {
  if (REDIS_CLUSTER_NODES) return clusterClient(REDIS_CLUSTER_NODES, REDIS_COMMAND_TIMEOUT_MS)
  if (!REDIS_URL) throw new Error('the redis plugin needs REDIS_URL or REDIS_CLUSTER_NODES')
  const client = new Redis(REDIS_URL, {
    ...nodeOptions(),
    enableOfflineQueue: false,
    retryStrategy: reconnectDelay
  })
  watchCommands(client, REDIS_COMMAND_TIMEOUT_MS)
  return client
}

/**
 * The same behaviour on a Redis Cluster. Options split in two: the cluster's own, and
 * `redisOptions` for the connection ioredis opens to each node.
 * - `enableOfflineQueue: false` (cluster level; ioredis forbids it in `redisOptions`): while the
 *   cluster is not ready, commands fail at once.
 * - `clusterRetryStrategy`: how the whole cluster reconnects after losing every node; the same
 *   back-off as the single client, never giving up.
 * - `enableReadyCheck: false`: ioredis' own check sends CLUSTER INFO to a random node right after
 *   the slot map arrives, and with the offline queue off it is refused when that node's connection
 *   is still opening; a refused check drops every connection and reconnects after the back-off,
 *   which can hold a fresh client past the boot wait. `usable` asks every master for
 *   `cluster_state:ok` instead.
 * - `slotsRefreshTimeout`: asking a node for the slot map gives up after a second (the node
 *   connect timeout), then the next node is asked.
 * - `retryDelayOnFailover: 0`: by default a command for a slot whose master connection is gone is
 *   retried every 100 ms until its command timeout ends it, so while a master is down each of its
 *   requests would cost the whole REDIS_COMMAND_TIMEOUT_MS. At 0 it fails at once and the request
 *   is a BYPASS. The slot map still heals: a command sent to another master comes back MOVED,
 *   which ioredis follows and which refreshes the map, as does the periodic refresh.
 * - `slotsRefreshInterval`: ioredis 6 has no periodic refresh unless asked. A pipeline follows a
 *   MOVED only when every one of its commands got the same one, so an invalidation ending in
 *   `WAIT` (CACHE_INVALIDATION_REPLICAS) sent to a master that has become a replica fails without
 *   correcting the map; while that master's breaker is open nothing else goes to its slots, and
 *   the owed replay would fail on the stale map forever. Every 5 s the map is asked again.
 * - `redisOptions`: per node, the single client's connect timeout and no resend; each node's
 *   connection gets the same command deadlines as the single client's when the cluster makes it.
 * The boot waits (the same second at most) for the cluster, a connection to every master and
 * `cluster_state:ok` on each (see `usable`).
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
  // ioredis opens a node's connection when the first command goes to that node, and with the
  // offline queue off a command that finds its node still connecting fails ("Connection is
  // closed."), opening the breaker on a fresh client. So connect to each node as soon as the
  // cluster learns of it (at start, and after a topology change or a reconnect).
  cluster.on('+node', (node: Redis) => {
    watchCommands(node, commandTimeoutMs)
    node.connect().catch(() => {})
  })
  return cluster
}

/**
 * A connection of its own for the tiered cache's invalidation subscriber (a subscribed connection
 * can do nothing else), reconnecting on the same terms, and never resubscribing by itself: the bus
 * must see each disconnect and resubscribe knowingly (see InvalidationBus).
 *
 * On a cluster it is a plain connection to one node of REDIS_CLUSTER_NODES: a PUBLISH on any node
 * reaches subscribers on every node, and a single connection's 'close' and 'ready' are exactly what
 * the bus needs to know (the cluster client's internal subscriber moves between nodes without
 * saying so). It starts with the first node and, each time a connection ends or fails, tries the
 * next one, so L1 follows whichever listed node is up (ioredis reads `options.host`/`port` afresh
 * at every connection attempt). While none is, L1 is off.
 */
export function invalidationSubscriber (client: Redis | Cluster, config: Config): Redis {
  const options = { autoResubscribe: false, connectionName: 'eventcache-invalidations' }
  const subscriber = isCluster(client) ? clusterSubscriber(config, options) : client.duplicate(options)
  watchCommands(subscriber, config.REDIS_COMMAND_TIMEOUT_MS)
  return subscriber
}

/** The invalidation subscriber's connection on a Redis Cluster (see invalidationSubscriber). */
function clusterSubscriber (config: Config, options: RedisOptions): Redis {
  const nodes = parseClusterNodes(config.REDIS_CLUSTER_NODES!)
  let current = 0
  const subscriber: Redis = new Redis(nodes[0]!.port, nodes[0]!.host, {
    ...nodeOptions(),
    ...options,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => {
      current = (current + 1) % nodes.length
      Object.assign(subscriber.options, nodes[current])
      return reconnectDelay(attempt)
    }
  })
  return subscriber
}

/**
 * Resolves once the client can serve: Redis is ready; or the cluster is, with a connection to
 * every master and every master saying `cluster_state:ok` (asked again every 100 ms until they do).
 * Never resolves for a client that ends first.
 */
export async function usable (client: Redis | Cluster): Promise<void> {
  for (;;) {
    if (client.status === 'end') return new Promise(() => {})
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve))
    if (!isCluster(client)) return
    const masters = client.nodes('master')
    await Promise.all(masters.map((node) =>
      node.status === 'ready' || new Promise((resolve) => node.once('ready', resolve))))
    const ok = await Promise.all(masters.map((node) =>
      node.cluster('INFO').then((info) => /^cluster_state:ok\r?$/m.test(info), () => false)))
    if (masters.length > 0 && ok.every(Boolean)) return
    await sleep(100)
  }
}
