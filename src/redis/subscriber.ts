import { Redis, type Cluster, type RedisOptions } from 'ioredis'
import { watchCommands } from './command-deadline.ts'
import type { Config } from '../config.ts'
import { nodeOptions, reconnectDelay } from './client.ts'
import { isCluster, parseClusterNodes } from './cluster.ts'

type SubscriberConfig = Pick<Config, 'REDIS_CLUSTER_NODES' | 'REDIS_COMMAND_TIMEOUT_MS'>

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
export function invalidationSubscriber (client: Redis | Cluster, config: SubscriberConfig): Redis {
  const options = { autoResubscribe: false, connectionName: 'eventcache-invalidations' }
  const subscriber = isCluster(client) ? clusterSubscriber(config, options) : client.duplicate(options)
  watchCommands(subscriber, config.REDIS_COMMAND_TIMEOUT_MS)
  return subscriber
}

/** The invalidation subscriber's connection on a Redis Cluster (see invalidationSubscriber). */
function clusterSubscriber (config: SubscriberConfig, options: RedisOptions): Redis {
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
