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

/**
 * Concurrent callers with the same key share one execution, but only one that had not begun when
 * they arrived: an execution begins on the event loop's next turn (so callers arriving together
 * share it), or when the one running ends; a caller that comes while one runs shares the next. One
 * execution runs per key at a time, and each result was produced after its caller arrived: what
 * `work` reads is never older than what was true when the caller came (a load a caller joins has not
 * yet taken its snapshot).
 */
export class FreshFlight<T> {
  readonly #flights = new Map<string, { running?: Promise<T>, next?: Promise<T> }>()

  /** @returns the result, and whether this caller shared an execution another caller queued */
  async run (key: string, work: () => Promise<T>): Promise<{ value: T, shared: boolean }> {
    const flights = this.#flights.get(key) ?? {}
    if (flights.next) return { value: await flights.next, shared: true }
    this.#flights.set(key, flights)
    const turn = flights.running?.then(noop, noop) ?? new Promise<void>((resolve) => setImmediate(resolve))
    const next = turn.then(() => {
      flights.next = undefined
      const running: Promise<T> = work().finally(() => {
        if (flights.running === running) flights.running = undefined
        if (!flights.running && !flights.next) this.#flights.delete(key)
      })
      flights.running = running
      return running
    })
    flights.next = next
    return { value: await next, shared: false }
  }

  get size (): number {
    return this.#flights.size
  }
}

function noop (): void {}
