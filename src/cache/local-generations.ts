/**
 * Generation counters kept in this process. For the memory store they are the generations; for
 * the Redis store they key single-flight while Redis cannot be asked (so a request after a local
 * write never joins a load that started before it).
 *
 * Counters only ever go up and live as long as the process, so a value never comes back: the
 * hazard that makes the Redis store use random tokens instead (a lost key restarting at 0) cannot
 * happen here.
 */
export class LocalGenerations {
  readonly #counters = new Map<string, number>()

  stamp (generations: readonly string[]): string {
    if (generations.length === 1) return String(this.#counters.get(generations[0]!) ?? 0)
    return generations.map((generation) => this.#counters.get(generation) ?? 0).join(',')
  }

  value (generation: string): number {
    return this.#counters.get(generation) ?? 0
  }

  bump (generations: readonly string[]): void {
    for (const generation of generations) this.#counters.set(generation, (this.#counters.get(generation) ?? 0) + 1)
  }
}
