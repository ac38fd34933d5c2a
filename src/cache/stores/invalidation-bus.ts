import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { SUBSCRIBE_RETRY } from '../tuning.ts'

/** What the bus tells the tiered store. */
export interface BusListener {
  /** Another instance invalidated these generations; `lagMs` is publish → receipt. */
  remote: (generations: readonly string[], lagMs: number) => void
  /** Messages may have been lost (the subscriber disconnected): forget everything held locally. */
  reset: (reason: string) => void
}

/**
 * Carries invalidations between instances over Redis pub/sub, so each instance can drop its
 * in-process (L1) copies of what another instance's write changed.
 *
 * Pub/sub delivers at most once: a message sent while the subscriber is disconnected is gone. So
 * the bus only counts as `listening` while its SUBSCRIBE is in force, and any disconnect resets
 * the listener and starts a new `epoch`: an L1 fill that began under an older epoch is refused,
 * because invalidations it should have seen may have been lost in between.
 */
export class InvalidationBus {
  readonly #publisher: Redis | Cluster
  readonly #subscriber: Redis
  readonly #channel: string
  #listener: BusListener | undefined
  readonly #log: FastifyBaseLogger
  /** Tells this instance's own messages apart (they were applied locally before publishing). */
  readonly #instance = randomBytes(6).toString('base64url')
  #listening = false
  #epoch = 0
  #closed = false
  /** A SUBSCRIBE the connection refused or let time out, tried again on this connection. */
  #retryTimer: NodeJS.Timeout | undefined
  #retryDelayMs: number = SUBSCRIBE_RETRY.delayMs

  constructor (options: { publisher: Redis | Cluster, subscriber: Redis, channel: string, log: FastifyBaseLogger }) {
    this.#publisher = options.publisher
    this.#subscriber = options.subscriber
    this.#channel = options.channel
    this.#log = options.log
    this.#subscriber.on('error', (error: Error) => this.#log.debug({ err: error }, 'invalidation subscriber error'))
  }

  /** True while invalidations from other instances are known to arrive: only then may L1 serve. */
  get listening (): boolean {
    return this.#listening
  }

  /** Changes whenever messages may have been lost. */
  get epoch (): number {
    return this.#epoch
  }

  /**
   * Starts telling `listener`: subscribes now if the connection is already up (otherwise 'ready'
   * will), and waits at most `waitMs` for the subscription, so that L1 serves from the first
   * requests when Redis is there and a Redis that is down does not hold the boot.
   */
  async start (listener: BusListener, waitMs: number): Promise<void> {
    this.#listener = listener
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#channel) this.#receive(message)
    })
    // #subscribe reports its own failures.
    this.#subscriber.on('ready', () => { this.#subscribe().catch(() => {}) })
    // 'close' fires on every lost connection, before any reconnect.
    this.#subscriber.on('close', () => this.#lost('subscriber connection closed'))
    if (this.#subscriber.status === 'ready') await this.#subscribe()
    const deadline = Date.now() + waitMs
    while (!this.#listening && Date.now() < deadline) await sleep(10)
  }

  /**
   * Tells every other instance. Call after the generations have changed in Redis: an instance
   * that drops its L1 copy and reloads must find the new generations there.
   */
  async publish (generations: readonly string[]): Promise<void> {
    const sentAt = performance.timeOrigin + performance.now()
    await this.#publisher.publish(this.#channel, `${this.#instance} ${sentAt}\n${generations.join('\n')}`)
  }

  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retryTimer)
    this.#listening = false
    this.#subscriber.disconnect()
  }

  async #subscribe (): Promise<void> {
    const epoch = this.#epoch
    try {
      await this.#subscriber.subscribe(this.#channel)
    } catch (error) {
      // A connection lost meanwhile resubscribes on 'ready'; one still up would never try again.
      if (epoch !== this.#epoch || this.#closed) return
      this.#log.warn({ err: error, retryInMs: this.#retryDelayMs },
        'invalidation subscriber could not subscribe; L1 stays off until it does')
      clearTimeout(this.#retryTimer)
      this.#retryTimer = setTimeout(() => { this.#subscribe().catch(() => {}) }, this.#retryDelayMs)
      this.#retryTimer.unref()
      this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, SUBSCRIBE_RETRY.maxDelayMs)
      return
    }
    // A disconnect while subscribing started a new epoch: this subscription is not the live one.
    if (epoch !== this.#epoch || this.#closed) return
    this.#retryDelayMs = SUBSCRIBE_RETRY.delayMs
    this.#listening = true
    this.#log.info({ channel: this.#channel }, 'invalidation subscriber listening: L1 on')
  }

  #lost (reason: string): void {
    this.#epoch++
    clearTimeout(this.#retryTimer)
    const wasListening = this.#listening
    this.#listening = false
    this.#listener?.reset(reason)
    if (wasListening && !this.#closed) {
      this.#log.warn({ reason }, 'invalidation subscriber lost: L1 flushed and off until it resubscribes')
    }
  }

  #receive (message: string): void {
    const headerEnd = message.indexOf('\n')
    const [instance, sentAt] = message.slice(0, headerEnd).split(' ')
    if (instance === this.#instance) return
    const lagMs = performance.timeOrigin + performance.now() - Number(sentAt)
    this.#listener?.remote(message.slice(headerEnd + 1).split('\n'), lagMs)
  }
}
