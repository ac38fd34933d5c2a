import type { Cluster, Redis } from 'ioredis'
import { pino } from 'pino'
import type { Test } from 'tap'
import { createRedisClient } from '../../src/redis/client.ts'
import { invalidationSubscriber } from '../../src/redis/subscriber.ts'
import { usable } from '../../src/redis/usable.ts'
import { InvalidationBus } from '../../src/cache/stores/invalidation-bus.ts'
import { MemoryStore } from '../../src/cache/stores/memory-store.ts'
import { RedisStore } from '../../src/cache/stores/redis-store.ts'
import type { AppStore } from '../../src/cache/stores/store.ts'
import { TieredStore } from '../../src/cache/stores/tiered-store.ts'
import { CACHE_FORMAT_VERSION } from '../../src/cache/views.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { cacheEnv, type CacheTestMode } from './cache-modes.ts'
import { until, within } from './waiting.ts'

/**
 * The stores on their own, without the app: what test/cache/store-contract.ts runs against. Each
 * test gets a site (a key prefix of its own on the Redis the mode names) and opens as many
 * instances of the store there as it needs, each with connections of its own, as separate
 * processes would have.
 */

/** The longest life the stores are told an entry may have: generations outlive it. */
const MAX_TTL_MS = 60_000
/** The L1 of a tiered store: copies live as long as their Redis entry lets them. */
const L1_TTL_MS = 60_000
const MEMORY_LIMITS = { maxBytes: 10_000_000, maxEntries: 10_000 }

/** Where one test's stores live. */
export interface StoreSite {
  /** Every key the test makes starts with it (through keyspace(prefix)), so files can share a Redis. */
  prefix: string
  /** Whether instances share what they store (Redis): then a lease, and a change applied once, mean something. */
  shared: boolean
  /** One more instance of the store, closed when the test ends. */
  open: () => Promise<AppStore>
}

export type SiteMaker = (t: Test) => Promise<StoreSite>

/** The stores each CACHE_TEST_MODES entry runs the contract against. */
export const STORE_SITES: Record<CacheTestMode, Array<{ name: string, site: SiteMaker }>> = {
  memory: [{ name: 'the memory store', site: memorySite }],
  redis: [{ name: 'the Redis store', site: (t) => redisSite(t, 'redis') }],
  tiered: [{ name: 'the tiered store', site: (t) => tieredSite(t, 'tiered') }],
  cluster: [
    { name: 'the Redis store on a Redis Cluster', site: (t) => redisSite(t, 'cluster') },
    { name: 'the tiered store on a Redis Cluster', site: (t) => tieredSite(t, 'cluster') }
  ]
}

async function memorySite (t: Test): Promise<StoreSite> {
  const { CACHE_PREFIX } = await cacheEnv(t, 'memory')
  return { prefix: CACHE_PREFIX!, shared: false, open: async () => new MemoryStore(MEMORY_LIMITS) }
}

async function redisSite (t: Test, mode: 'redis' | 'cluster'): Promise<StoreSite> {
  const config = loadConfig(await cacheEnv(t, mode))
  const open = async () => new RedisStore(await redisClient(t, config), MAX_TTL_MS)
  return { prefix: config.CACHE_PREFIX, shared: true, open }
}

async function tieredSite (t: Test, mode: 'tiered' | 'cluster'): Promise<StoreSite> {
  const config = await tieredConfig(t, mode)
  return { prefix: config.CACHE_PREFIX, shared: true, open: async () => (await openTiered(t, config)).store }
}

/** CACHE_MODE=tiered on one Redis, or on the test cluster, under a prefix of its own. */
export async function tieredConfig (t: Test, mode: 'tiered' | 'cluster'): Promise<Config> {
  return loadConfig({ ...await cacheEnv(t, mode), CACHE_MODE: 'tiered' })
}

/** What another instance hears on its bus. */
export interface Heard {
  generations: readonly string[]
  lagMs: number
}

/**
 * A tiered store as src/cache/create-response-cache.ts makes it (its own client, subscriber and bus), started: its
 * bus listening. `heard` collects what the bus brings from other instances.
 */
export async function openTiered (t: Test, config: Config): Promise<{
  store: TieredStore
  bus: InvalidationBus
  subscriber: Redis
  heard: Heard[]
}> {
  const client = await redisClient(t, config)
  const subscriber = invalidationSubscriber(client, config)
  subscriber.on('error', () => {})
  t.teardown(() => subscriber.disconnect())
  const bus = new InvalidationBus({
    publisher: client,
    subscriber,
    channel: `${config.CACHE_PREFIX}:v${CACHE_FORMAT_VERSION}:invalidations`,
    log: pino({ level: 'silent' })
  })
  const store = new TieredStore({
    l1: new MemoryStore(MEMORY_LIMITS),
    l2: new RedisStore(client, MAX_TTL_MS),
    bus,
    l1TtlMs: L1_TTL_MS
  })
  const heard: Heard[] = []
  t.teardown(() => store.close())
  await store.start((generations, lagMs) => heard.push({ generations, lagMs }))
  // start() gives up after a second, as the boot does; a test needs L1 on, however slow the machine.
  await until('the invalidation bus listening', async () => bus.listening, { withinMs: 10_000, everyMs: 10 })
  return { store, bus, subscriber, heard }
}

/** The app's Redis client (deadlines, no offline queue) for `config`, usable, disconnected when the test ends. */
export async function redisClient (t: Test, config: Config): Promise<Redis | Cluster> {
  const client = createRedisClient(config)
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  await within(usable(client), 10_000, `Redis usable at ${config.REDIS_URL ?? config.REDIS_CLUSTER_NODES}`)
  return client
}
