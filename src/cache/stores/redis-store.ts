import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { assertClusterReady, groupByHashTag, isCluster, masters } from '../../redis/cluster.ts'
import type { Encoding } from '../encodings.ts'
import {
  InvalidationError,
  type CacheStore,
  type EntryLife,
  type InspectableStore,
  type Lookup,
  type StoredEntry
} from './store.ts'

const NEWLINE = 0x0a

/**
 * The fenced fill, atomic inside Redis (the same rule the memory store applies), for every
 * representation of a response at once.
 * KEYS: entry 1..m, generation 1..n. ARGV: m, entry ttl ms, generation ttl ms, entry bytes 1..m,
 * observed value 1..n ('' = the generation did not exist), fresh token 1..n.
 * Refuses when any generation moved since it was observed; otherwise creates the missing ones
 * with their fresh tokens, keeps every generation alive at least as long as the entries, and stores.
 */
const FENCED_FILL = `
local m = tonumber(ARGV[1])
local n = #KEYS - m
local observed = 3 + m
for i = 1, n do
  local current = redis.call('GET', KEYS[m + i])
  if ARGV[observed + i] == '' then
    if current then return 0 end
  elseif current ~= ARGV[observed + i] then
    return 0
  end
end
for i = 1, n do
  if ARGV[observed + i] == '' then
    redis.call('SET', KEYS[m + i], ARGV[observed + n + i], 'PX', ARGV[3])
  else
    redis.call('PEXPIRE', KEYS[m + i], ARGV[3])
  end
end
for i = 1, m do
  redis.call('SET', KEYS[i], ARGV[3 + i], 'PX', ARGV[2])
end
return 1
`

type FencedFill = (keyCount: number, ...keysAndArgs: Array<string | Buffer | number>) => Promise<number>

/**
 * A database change's invalidation of one generation, done once however many instances send it:
 * the first to set the change's marker (next to the generation, so in its cluster slot) changes it.
 * KEYS: generation, marker. ARGV: fresh token, generation ttl ms, marker ttl ms.
 */
const INVALIDATE_ONCE = `
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
`

/**
 * How long a change's markers outlive it: far longer than every listening instance takes to hear of
 * it, which is all they are for.
 */
const CHANGE_MARKER_TTL_MS = 10 * 60_000

/** The command INVALIDATE_ONCE defines on a pipeline. */
interface InvalidatesOnce {
  eventcacheInvalidateOnce: (generation: string, marker: string, token: string,
    generationTtlMs: number, markerTtlMs: number) => unknown
}

/** CACHE_INVALIDATION_REPLICAS: how many replicas must have an invalidation, and how long to wait for them. */
export interface InvalidationDurability {
  replicas: number
  waitMs: number
}

/**
 * Responses and generations in Redis (one server or a Redis Cluster), shared by every instance.
 *
 * An entry is one string: a header line
 * `status etag stamp expires-at-ms encoding stored-at-ms refresh-at-ms kept-until-ms` and the response bytes,
 * in one coding, kept past expires-at until kept-until for its grace (CACHE_GRACE). The times are the
 * filling instance's clock: Redis's own expiry, counted from when the fill ran, only frees the memory. Each
 * representation of a response is an entry of its own (encodedKey), so a hit moves only the bytes
 * it sends. A lookup is a single MGET of the entry and its generations (one round trip, one cluster
 * slot thanks to the hash tags), and a hit is the stored bytes sliced past the header: nothing else
 * is parsed.
 *
 * Generations are random tokens, not counters: if Redis loses a generation key (restart,
 * eviction, expiry), a counter could count back up to a value an old entry was stamped with and
 * resurrect it; a fresh random token never matches anything stored before.
 *
 * On a Redis Cluster, a lookup and a fill touch one view's keys, which share a hash tag (views.ts),
 * so they run as they do on one server. What touches several views' keys (an invalidation, the
 * panel's generation values, a flush) is split by slot, or by node for SCAN.
 */
export class RedisStore implements CacheStore, InspectableStore {
  readonly #redis: Redis | Cluster
  readonly #fencedFill: FencedFill
  readonly #generationTtlMs: number
  readonly #durability: InvalidationDurability | undefined

  /**
   * @param maxTtlMs the longest any entry lives; generations outlive their entries
   * @param durability replicas an invalidation must reach before it counts (unset: the master's answer is enough)
   */
  constructor (redis: Redis | Cluster, maxTtlMs: number, durability?: InvalidationDurability) {
    this.#redis = redis
    this.#durability = durability
    this.#generationTtlMs = 2 * maxTtlMs + 60_000
    if (!('eventcacheFill' in redis)) redis.defineCommand('eventcacheFill', { lua: FENCED_FILL })
    if (!('eventcacheInvalidateOnce' in redis)) {
      redis.defineCommand('eventcacheInvalidateOnce', { lua: INVALIDATE_ONCE, numberOfKeys: 2 })
    }
    this.#fencedFill = (redis as unknown as { eventcacheFill: FencedFill }).eventcacheFill.bind(redis)
  }

  async lookup (key: string, generations: readonly string[]): Promise<Lookup> {
    const [entry, ...values] = await this.#redis.mgetBuffer(key, ...generations)
    const stamp = values.map((value) => value?.toString('latin1') ?? '').join(',')
    if (!entry) return { state: 'miss', stamp }
    const headerEnd = entry.indexOf(NEWLINE)
    const [status, etag, storedStamp, expiry, encoding, stored, refresh, kept] = entry
      .toString('latin1', 0, headerEnd).split(' ')
    // A stored stamp never has an empty part (fills create missing generations), so an entry
    // can only match generations that all exist.
    if (storedStamp !== stamp) return { state: 'miss', stamp }
    const response = {
      status: Number(status),
      encoding: encoding as Encoding,
      etag: etag!,
      body: entry.subarray(headerEnd + 1)
    }
    const expiresAt = Number(expiry)
    const storedAt = Number(stored)
    const now = Date.now()
    if (expiresAt <= now) {
      // Without a grace (or from a header that predates it) an entry is over at its expiry.
      const keptUntil = Number(kept)
      if (!(keptUntil > now)) return { state: 'miss', stamp }
      return { state: 'expired', response, stamp, storedAt, expiresAt }
    }
    // Refresh-ahead off (or an older header): no refresh point, never due.
    if (refresh === undefined || refresh === '-') return { state: 'hit', response, stamp, storedAt, expiresAt }
    const refreshAt = Number(refresh)
    return { state: 'hit', response, stamp, storedAt, expiresAt, refreshAt, refreshDue: refreshAt <= now }
  }

  async fill (entries: readonly StoredEntry[], generations: readonly string[], stamp: string,
    life: EntryLife, fenced: boolean): Promise<boolean> {
    const observed = fenced ? stamp.split(',') : await this.#currentValues(generations)
    const fresh = observed.map(() => newToken())
    const finalStamp = observed.map((value, i) => value === '' ? fresh[i]! : value).join(',')
    // The times travel with the entry: a hit knows when to refresh, and an in-process copy (tiered
    // mode) never outlives it; Redis keeps it until its grace is over.
    const storedAt = Date.now()
    const expiresAt = storedAt + life.ttlMs
    const refreshAt = life.refreshMs === undefined ? '-' : storedAt + life.refreshMs
    const keptUntil = expiresAt + (life.graceMs ?? 0)
    const header = `${finalStamp} ${expiresAt} `
    const times = ` ${storedAt} ${refreshAt} ${keptUntil}\n`
    const payloads = entries.map(({ response: { status, etag, encoding, body } }) => Buffer.concat([
      Buffer.from(`${status} ${etag} ${header}${encoding}${times}`, 'latin1'),
      body
    ]))
    const stored = await this.#fencedFill(
      entries.length + generations.length,
      ...entries.map(({ key }) => key),
      ...generations,
      entries.length,
      life.ttlMs + (life.graceMs ?? 0),
      this.#generationTtlMs,
      ...payloads,
      ...observed,
      ...fresh
    )
    return stored === 1
  }

  /**
   * One pipeline of SETs: one round trip on a single Redis. A cluster pipeline must stay in one
   * slot, so there it is one pipeline per slot, all sent at once (one round trip per node, in
   * parallel). Any SET failing fails the invalidation (the cache then owes and replays it).
   *
   * With `durability`, each pipeline ends with `WAIT`: Redis replicates asynchronously, and a
   * master that dies before its replica has the new generations would hand over a replica on which
   * the old entries are valid again. An invalidation fewer replicas acknowledged fails like any
   * other, so it is owed and replayed (on the promoted replica, after a failover).
   *
   * Every slot's pipeline runs to its end even when another fails: the error names the
   * generations that failed, so only their node is taken for down.
   *
   * With `changeId`, each SET is INVALIDATE_ONCE's: every instance hears of a database change,
   * and a generation changed twice would drop what was filled between the two.
   */
  async invalidate (generations: readonly string[], changeId?: string): Promise<void> {
    if (generations.length === 0) return
    const durability = this.#durability
    const groups = this.#bySlot(generations)
    const results = await Promise.allSettled(groups.map(async (group) => {
      const pipeline = this.#redis.pipeline()
      for (const position of group) {
        const generation = generations[position]!
        if (changeId === undefined) pipeline.set(generation, newToken(), 'PX', this.#generationTtlMs)
        else {
          (pipeline as unknown as InvalidatesOnce).eventcacheInvalidateOnce(
            generation, `${generation}:change:${changeId}`, newToken(), this.#generationTtlMs, CHANGE_MARKER_TTL_MS)
        }
      }
      // No key: a cluster pipeline sends it to the node its SETs went to.
      if (durability) pipeline.wait(durability.replicas, durability.waitMs)
      const results = await pipeline.exec()
      const failed = results?.find(([error]) => error !== null)
      if (failed) throw failed[0]
      if (durability) {
        const acknowledged = results!.at(-1)![1] as number
        if (acknowledged < durability.replicas) {
          throw new Error(
            `invalidation reached ${acknowledged} of ${durability.replicas} replicas within ${durability.waitMs} ms`
          )
        }
      }
    }))
    const failed = groups.flatMap((group, i) =>
      results[i]!.status === 'rejected' ? group.map((position) => generations[position]!) : [])
    if (failed.length > 0) {
      const rejected = results.find((result) => result.status === 'rejected') as PromiseRejectedResult
      throw new InvalidationError(failed, rejected.reason)
    }
  }

  async lease (key: string, stamp: string, ms: number): Promise<boolean> {
    return await this.#redis.set(`${key}:${stamp}`, newToken(), 'PX', ms, 'NX') === 'OK'
  }

  async inspect (key: string): Promise<{ ttlMs: number, bytes: number } | undefined> {
    const [ttl, length] = await Promise.all([this.#redis.pttl(key), this.#redis.strlen(key)])
    return ttl < 0 && length === 0 ? undefined : { ttlMs: ttl, bytes: length }
  }

  /** One MGET per slot (one in all on a single Redis), answers put back in the order asked. */
  async generationValues (generations: readonly string[]): Promise<string[]> {
    const values = generations.map(() => '')
    await Promise.all(this.#bySlot(generations).map(async (group) => {
      const answers = await this.#redis.mget(...group.map((position) => generations[position]!))
      group.forEach((position, i) => { values[position] = answers[i] ?? '' })
    }))
    return values
  }

  /**
   * SCAN + UNLINK: for the panel's flush button only, never on the request path. SCAN walks one
   * server's keys, so on a cluster it runs on every master; UNLINK goes through the cluster
   * client, one slot at a time (a node refuses a multi-key command across slots, even its own).
   */
  async flush (pattern: string): Promise<number> {
    const redis = this.#redis
    let flushed = 0
    for (const server of isCluster(redis) ? masters(redis) : [redis]) {
      let cursor = '0'
      do {
        const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        const unlinked = await Promise.all(this.#bySlot(keys).map((group) =>
          redis.unlink(...group.map((position) => keys[position]!))))
        flushed += unlinked.reduce((sum, count) => sum + count, 0)
      } while (cursor !== '0')
    }
    return flushed
  }

  async close (): Promise<void> {}

  /**
   * Positions of `keys` in groups that may share a pipeline or a multi-key command: one group on
   * a single Redis, one per slot on a cluster.
   */
  #bySlot (keys: readonly string[]): number[][] {
    const redis = this.#redis
    if (keys.length === 0) return []
    if (!isCluster(redis)) return [keys.map((_, position) => position)]
    assertClusterReady(redis)
    return groupByHashTag(keys)
  }

  /** Unfenced (CACHE_FENCE=false): stamp with whatever is current now, as a naive cache would. */
  async #currentValues (generations: readonly string[]): Promise<string[]> {
    const values = await this.#redis.mgetBuffer(...generations)
    return values.map((value) => value?.toString('latin1') ?? '')
  }
}

function newToken (): string {
  return randomBytes(9).toString('base64url')
}
