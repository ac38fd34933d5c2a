/**
 * Concurrent callers with the same key share one execution: the first runs `work`, the others
 * wait for its result. A failure reaches every waiter and is not remembered, so the next call
 * runs `work` again.
 */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>()

  /** @returns the result, and whether this caller waited on another's work */
  async run (key: string, work: () => Promise<T>): Promise<{ value: T, shared: boolean }> {
    const pending = this.#inFlight.get(key)
    if (pending) return { value: await pending, shared: true }
    const flight = work().finally(() => this.#inFlight.delete(key))
    this.#inFlight.set(key, flight)
    return { value: await flight, shared: false }
  }

  get size (): number {
    return this.#inFlight.size
  }
}
