import { setTimeout as sleep } from 'node:timers/promises'
import type { Cluster, Redis } from 'ioredis'
import { isCluster } from './cluster.ts'

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

/** Resolves once the client is usable, or after `ms`, whichever comes first. */
export async function usableWithin (client: Redis | Cluster, ms: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    usable(client).then(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}
