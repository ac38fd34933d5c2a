export type BreakerState = 'closed' | 'open'

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  threshold: number
  /** How long it stays open before probing, doubled after each failed probe up to maxCooldownMs. */
  cooldownMs: number
  maxCooldownMs: number
  /** Checks the dependency is back before closing. */
  probe: () => Promise<void>
  onChange: (state: BreakerState, reason: string) => void
}

/**
 * Stops paying a dependency's timeout on every request while it is down. Closed: calls go
 * through, and `threshold` consecutive failures open it. Open: callers skip the dependency at
 * once; after a cooldown one background probe runs, and only its success closes the breaker.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed'
  #failures = 0
  #cooldownMs: number
  #probeTimer: NodeJS.Timeout | undefined
  #closed = false
  readonly #options: BreakerOptions

  constructor (options: BreakerOptions) {
    this.#options = options
    this.#cooldownMs = options.cooldownMs
  }

  get state (): BreakerState {
    return this.#state
  }

  get isOpen (): boolean {
    return this.#state === 'open'
  }

  success (): void {
    this.#failures = 0
  }

  failure (error: unknown): void {
    if (this.#state === 'open') return
    this.#failures++
    if (this.#failures >= this.#options.threshold) this.open((error as Error).message ?? String(error))
  }

  /** Opens at once (a dependency known to be down). */
  open (reason: string): void {
    if (this.#state === 'open') return
    this.#state = 'open'
    this.#cooldownMs = this.#options.cooldownMs
    this.#options.onChange('open', reason)
    this.#scheduleProbe()
  }

  /** Stops probing (the app is closing). */
  dispose (): void {
    this.#closed = true
    clearTimeout(this.#probeTimer)
  }

  #scheduleProbe (): void {
    if (this.#closed) return
    this.#probeTimer = setTimeout(() => { this.#probe() }, this.#cooldownMs)
    this.#probeTimer.unref()
  }

  async #probe (): Promise<void> {
    try {
      await this.#options.probe()
    } catch {
      this.#cooldownMs = Math.min(this.#cooldownMs * 2, this.#options.maxCooldownMs)
      this.#scheduleProbe()
      return
    }
    if (this.#closed) return
    this.#state = 'closed'
    this.#failures = 0
    this.#options.onChange('closed', 'probe succeeded')
  }
}
