import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheLog } from './guarded-store.ts'
import { OWED_ANNOUNCEMENT } from '../tuning.ts'

/** Sends messages to every instance's listener; resolves with how many listeners can hear them. */
export type SendMessages = (payloads: readonly string[]) => Promise<number>

interface Pending {
  heard: Set<string>
  /** Listeners there were when it was sent; unknown until the send has answered. */
  expected: number
  done: () => void
}

/**
 * What one instance owes, told to every other before its write answers. A write whose
 * invalidation Redis did not get is owed where it was made (OwedLedger), and another instance that
 * can reach Redis, or reaches it first when it comes back, would serve the old state from it. So
 * the owed generations go out on the database-change channel, which needs only PostgreSQL (up: the
 * write just committed there), every listener owes them too until one of them has given them a new
 * value in Redis, and says it heard (`heard <token> <listener>`). The write waits until every
 * listener connected when it was sent has said so, or OWED_ANNOUNCEMENT.waitMs at most: a listener
 * that does not answer in time (its process stalled, its connection dead without a reset) is
 * logged and not waited for.
 */
export class OwedAnnouncement {
  /** This instance's listener, as its `heard` messages name it. */
  readonly listener = randomBytes(6).toString('base64url')
  readonly #send: SendMessages
  readonly #log: CacheLog
  readonly #pending = new Map<string, Pending>()
  #sequence = 0

  constructor (options: { send: SendMessages, log: CacheLog }) {
    this.#send = options.send
    this.#log = options.log
  }

  /** Tells every instance that `generations` are owed; resolves once each has heard, or after the wait. */
  async announce (generations: readonly string[]): Promise<void> {
    const messages = this.#messages(generations)
    const waited = new AbortController()
    const heard = messages.map(({ token }) => new Promise<void>((resolve) => {
      this.#pending.set(token, { heard: new Set(), expected: Infinity, done: resolve })
    }))
    try {
      const listeners = await this.#send(messages.map(({ payload }) => payload))
      for (const { token } of messages) this.#expect(token, listeners)
      const all = Promise.all(heard).then(() => true)
      const timedOut = sleep(OWED_ANNOUNCEMENT.waitMs, false, { signal: waited.signal }).catch(() => false)
      if (!await Promise.race([all, timedOut])) {
        const answered = Math.min(...messages.map(({ token }) => this.#pending.get(token)?.heard.size ?? listeners))
        this.#log.warn({ listeners, answered, generations: generations.length },
          'not every instance confirmed an owed cache invalidation in time: one that did not may serve the old ' +
          'state until it hears it')
      }
    } catch (error) {
      this.#log.error({ err: error, generations: generations.length },
        'could not tell the other instances of an owed cache invalidation: they may serve the old state until ' +
        'it is replayed')
    } finally {
      waited.abort()
      for (const { token } of messages) this.#pending.delete(token)
    }
  }

  /** Whether `token` is one of this instance's announcements. */
  isOwn (token: string): boolean {
    return token.startsWith(`${this.listener}.`)
  }

  /** `listener` has applied the announcement `token`. */
  heard (token: string, listener: string): void {
    const pending = this.#pending.get(token)
    if (pending === undefined) return
    pending.heard.add(listener)
    if (pending.heard.size >= pending.expected) pending.done()
  }

  #expect (token: string, listeners: number): void {
    const pending = this.#pending.get(token)!
    pending.expected = listeners
    if (pending.heard.size >= listeners) pending.done()
  }

  /** `owed <token> <generation>…`, split so that no message passes PostgreSQL's payload limit. */
  #messages (generations: readonly string[]): Array<{ token: string, payload: string }> {
    const messages: Array<{ token: string, payload: string }> = []
    let batch: string[] = []
    let length = 0
    const flush = () => {
      if (batch.length === 0) return
      const token = `${this.listener}.${++this.#sequence}`
      messages.push({ token, payload: `owed ${token} ${batch.join(' ')}` })
      batch = []
      length = 0
    }
    for (const generation of generations) {
      if (length + generation.length + 1 > OWED_ANNOUNCEMENT.maxPayloadBytes) flush()
      batch.push(generation)
      length += generation.length + 1
    }
    flush()
    return messages
  }
}
