import { CircuitBreaker, type BreakerOptions, type BreakerState } from './circuit-breaker.ts'

export interface ShardBreakersOptions extends Pick<BreakerOptions, 'threshold' | 'cooldownMs' | 'maxCooldownMs'> {
  /** Which shard serves `key` now: a Redis Cluster master (`host:port`), or the one Redis. */
  shardOf: (key: string) => string
  /** Resolves once `shard` answers again. */
  probe: (shard: string) => Promise<void>
  onChange: (shard: string, state: BreakerState, reason: string) => void
}

/**
 * A circuit breaker per shard, made when a shard is first met. On a Redis Cluster, a master that
 * stops answering turns only the keys it serves into BYPASS; the other masters' keys stay cached.
 * Keys move between shards on a failover or a reshard: a key is judged by the breaker of the
 * shard that serves it now.
 */
export class ShardBreakers {
  readonly #breakers = new Map<string, CircuitBreaker>()
  readonly #options: ShardBreakersOptions

  constructor (options: ShardBreakersOptions) {
    this.#options = options
  }

  /** The breaker of the shard serving `key`. */
  for (key: string): CircuitBreaker {
    const shard = this.#options.shardOf(key)
    let breaker = this.#breakers.get(shard)
    if (breaker === undefined) {
      const { threshold, cooldownMs, maxCooldownMs, probe, onChange } = this.#options
      breaker = new CircuitBreaker({
        threshold,
        cooldownMs,
        maxCooldownMs,
        probe: () => probe(shard),
        onChange: (state, reason) => onChange(shard, state, reason)
      })
      this.#breakers.set(shard, breaker)
    }
    return breaker
  }

  /** `keys` grouped by the breaker of the shard serving each. */
  byShard (keys: Iterable<string>): Map<CircuitBreaker, string[]> {
    const groups = new Map<CircuitBreaker, string[]>()
    for (const key of keys) {
      const breaker = this.for(key)
      const group = groups.get(breaker)
      if (group) group.push(key)
      else groups.set(breaker, [key])
    }
    return groups
  }

  /** The shards whose breaker is open now. */
  get open (): string[] {
    return [...this.#breakers].filter(([, breaker]) => breaker.isOpen).map(([shard]) => shard)
  }

  dispose (): void {
    for (const breaker of this.#breakers.values()) breaker.dispose()
  }
}
