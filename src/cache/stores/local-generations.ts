/**
 * Generation counters kept in this process. For the memory store they are the generations; for
 * the Redis store they key single-flight while Redis cannot be asked (so a request after a local
 * write never joins a load that started before it).
 *
 * Bounded: past `maxCounters`, the counters bumped longest ago are dropped. What keeps that safe
 * is one invariant: a generation's value never goes down, and goes up at every bump, so a stamp
 * read before a bump never matches again after it. Every bump takes the next value of one
 * process-wide sequence; a drop removes every counter at or below a cut-off and makes that
 * cut-off the `floor`, which is what a generation without a counter reads. A dropped generation
 * thus reads at least what it held, and a generation never bumped reads a floor that only rises.
 * The price of the bound is a spurious miss now and then (an entry stamped under a lower floor),
 * never a stale hit.
 */
export class LocalGenerations {
  readonly #counters = new Map<string, number>()
  readonly #maxCounters: number
  #lastValue = 0
  #floor = 0

  constructor (maxCounters: number) {
    this.#maxCounters = Math.max(1, maxCounters)
  }

  /** How many generations have a counter of their own (at most `maxCounters`). */
  get size (): number {
    return this.#counters.size
  }

  stamp (generations: readonly string[]): string {
    if (generations.length === 1) return String(this.value(generations[0]!))
    return generations.map((generation) => this.value(generation)).join(',')
  }

  value (generation: string): number {
    return this.#counters.get(generation) ?? this.#floor
  }

  /** Whether the generation has a counter of its own: bumped, and not dropped since. */
  has (generation: string): boolean {
    return this.#counters.has(generation)
  }

  bump (generations: readonly string[]): void {
    for (const generation of generations) this.#counters.set(generation, ++this.#lastValue)
    if (this.#counters.size > this.#maxCounters) this.#drop()
  }

  /**
   * Keeps the counters of the last seven eighths of the bound's worth of bumps (values are
   * distinct, so at most that many), in one pass: dropping in batches keeps a bump O(1) amortised.
   */
  #drop (): void {
    const cutOff = this.#lastValue - (this.#maxCounters - (this.#maxCounters >> 3))
    for (const [generation, value] of this.#counters) if (value <= cutOff) this.#counters.delete(generation)
    this.#floor = Math.max(this.#floor, cutOff)
  }
}
