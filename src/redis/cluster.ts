import { Cluster, type Redis } from 'ioredis'

/**
 * What the app needs to know about Redis Cluster beyond what ioredis does by itself: the node
 * list, and which keys may travel together (a pipeline or a multi-key command must stay in one
 * slot on a cluster; on a single Redis anything goes).
 */

/** `host:port,host:port`: a host name or an IPv4 address (no colon in it), then a port. */
export const CLUSTER_NODES_PATTERN = '^[^,:\\s]+:\\d{1,5}(,[^,:\\s]+:\\d{1,5})*$'

export interface ClusterNodeAddress {
  host: string
  port: number
}

/** @throws Error naming the entry whose port is out of range (the pattern already checked the shape) */
export function parseClusterNodes (spec: string): ClusterNodeAddress[] {
  return spec.split(',').map((entry) => {
    const colon = entry.lastIndexOf(':')
    const port = Number(entry.slice(colon + 1))
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new Error(`the port of ${entry} is out of range (1-65535)`)
    }
    return { host: entry.slice(0, colon), port }
  })
}

export function isCluster (client: Redis | Cluster): client is Cluster {
  return client instanceof Cluster
}

/**
 * The part of a key Redis Cluster hashes to choose its slot: the hash tag (what is between the
 * first `{` and the next `}`, when that is not empty), else the whole key.
 * @see https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags
 */
export function hashedPart (key: string): string {
  const open = key.indexOf('{')
  if (open === -1) return key
  const close = key.indexOf('}', open + 1)
  return close === -1 || close === open + 1 ? key : key.slice(open + 1, close)
}

/** Redis Cluster's slot for `key`: CRC16 (XMODEM: polynomial 0x1021, initial value 0) of its hashed part, mod 16384. */
export function slotOf (key: string): number {
  let crc = 0
  for (const byte of Buffer.from(hashedPart(key))) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16_384
}

/**
 * Positions of `keys` grouped by hash tag, so each group is in one slot: keys with the same hashed part
 * share a slot by definition. Grouping by hashed part rather than by the CRC16 slot number needs
 * no hashing of our own; two different tags that happen to share a slot only make one more group,
 * sent in parallel with the others (the cache's keys have few distinct tags per operation).
 */
export function groupByHashTag (keys: readonly string[]): number[][] {
  const groups = new Map<string, number[]>()
  keys.forEach((key, index) => {
    const part = hashedPart(key)
    const group = groups.get(part)
    if (group) group.push(index)
    else groups.set(part, [index])
  })
  return [...groups.values()]
}

/**
 * A cluster pipeline sent before the client has a slot map (booted while the cluster was down)
 * waits for the connection attempt under way to end, up to `slotsRefreshTimeout` per startup node:
 * `enableOfflineQueue: false` does not cover pipelines. Fail at once instead, as a single command
 * does while the cluster is not ready.
 */
export function assertClusterReady (cluster: Cluster): void {
  if (cluster.status !== 'ready') throw new Error(`Redis Cluster not ready (${cluster.status})`)
}

/** The connections to every master, for what must visit each server (SCAN). */
export function masters (cluster: Cluster): Redis[] {
  assertClusterReady(cluster)
  return cluster.nodes('master')
}

/** The master serving `key` as the client's slot map has it now (`host:port`), or undefined before it has one. */
export function masterFor (cluster: Cluster, key: string): string | undefined {
  return cluster.slots[slotOf(key)]?.[0]
}
