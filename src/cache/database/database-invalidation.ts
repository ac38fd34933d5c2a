import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { ChangeListener } from '../../db/change-listener.ts'
import {
  CHANGES_CHANNEL,
  generationsChanged,
  parseChangeMessage,
  type ChangeMessage,
  type DatabaseChange
} from './database-changes.ts'
import type { CacheLog } from '../resilience/guarded-store.ts'
import type { EpochReason } from '../events.ts'
import { OwedAnnouncement, type SendMessages } from '../resilience/owed-announcement.ts'
import type { ResponseCache } from '../response-cache.ts'
import { DATABASE_CHANGES } from '../tuning.ts'

export interface DatabaseInvalidationOptions<Context extends object> {
  cache: ResponseCache<Context>
  /** The listener's own connection (not a pool's). */
  client: pg.ClientConfig
  /**
   * Whether instances share the store (redis, tiered): a new epoch is then announced to the others,
   * so that they keep sharing entries.
   */
  shared: boolean
  /** The guests of some events, as the database has them now. */
  guestsOf: (eventIds: number[]) => Promise<number[]>
  /** Sends messages on CHANGES_CHANNEL; resolves with how many listeners hear it (notifyListeners). */
  send: SendMessages
  log: CacheLog
}

/**
 * Invalidation for writes that do not come through the API: migration 003's triggers notify on
 * commit, and every instance listens (ChangeListener) and invalidates what a change names by the
 * rules an API write follows. The API's own writes send nothing: they are invalidated before
 * they answer.
 *
 * A message sent while the connection is down is lost for good, so every (re)connect gives every
 * view a new epoch (Keyspace.epoch): whatever was stored before, and may have missed a change, is
 * unreachable. Reads are BYPASS until the first connect. With a shared store the new epoch is
 * announced on the channel and the others adopt it: the last one announced wins everywhere, as
 * every instance hears the messages in the same order. So does the epoch of a change too large to
 * list its rows, named after the change, which every instance hears alike.
 *
 * With a shared store the channel also carries what an instance owes Redis (OwedAnnouncement):
 * every instance owes it too, and says it heard. An instance that cannot hear the channel cannot
 * hear those either, so from the moment its connection is lost until it is back (and the views
 * have a new epoch) it does not trust shared entries: reads go to PostgreSQL, and fall back on
 * what is stored only when PostgreSQL does not answer them (ReadTrust.sharedDistrusted).
 */
export class DatabaseInvalidation<Context extends object> {
  readonly #options: DatabaseInvalidationOptions<Context>
  readonly #listener: ChangeListener
  readonly #announcement: OwedAnnouncement
  /** Set once the first connect is done: a later one may have missed changes. */
  #reconnected = false

  constructor (options: DatabaseInvalidationOptions<Context>) {
    this.#options = options
    this.#announcement = new OwedAnnouncement({ send: options.send, log: options.log })
    this.#listener = new ChangeListener({
      client: options.client,
      channel: CHANGES_CHANNEL,
      ...DATABASE_CHANGES,
      handlers: {
        connected: () => this.#connected(),
        message: (payload) => this.#message(payload),
        lost: (error) => {
          if (options.shared) options.cache.trust.sharedDistrusted = true
          options.log.warn({ err: error },
            'lost the database-change connection: reconnecting; writes made meanwhile are invalidated on reconnect')
        }
      }
    })
    if (options.shared) options.cache.announceOwedWith((generations) => this.#announcement.announce(generations))
  }

  get listening (): boolean {
    return this.#listener.listening
  }

  /** Listens; reads are BYPASS until that succeeds (it keeps trying when the first attempt fails). */
  async start (): Promise<void> {
    this.#options.cache.trust.readsBypassed = true
    await this.#listener.start()
  }

  async stop (): Promise<void> {
    await this.#listener.stop()
  }

  async #connected (): Promise<void> {
    const { cache, log, shared } = this.#options
    const epoch = `d${randomBytes(6).toString('base64url')}`
    this.#changeEpoch(epoch, 'connected')
    cache.trust.readsBypassed = false
    cache.trust.sharedDistrusted = false
    if (this.#reconnected) {
      log.info({ epoch }, 'listening for database changes again: every view has a new epoch ' +
        '(changes may have been missed)')
    } else {
      log.info({ epoch }, 'listening for database changes')
    }
    this.#reconnected = true
    if (!shared) return
    try {
      await this.#listener.notify(`epoch ${epoch}`)
    } catch (error) {
      // The connection is gone again: the next connect announces an epoch of its own.
      log.warn({ err: error }, 'could not announce the new epoch to the other instances')
    }
  }

  async #message (payload: string): Promise<void> {
    const { log, shared } = this.#options
    const message = parseChangeMessage(payload)
    if (message === undefined) {
      log.warn({ payload: payload.slice(0, 100) }, `ignored a message on ${CHANGES_CHANNEL} it does not understand`)
      return
    }
    if (message.kind === 'epoch') {
      if (shared) this.#changeEpoch(message.epoch, 'adopted')
      return
    }
    if (message.kind === 'owed') {
      this.#owed(message)
      return
    }
    if (message.kind === 'heard') {
      this.#announcement.heard(message.token, message.listener)
      return
    }
    await this.#apply(message.change)
  }

  /**
   * Another instance owes these generations (or this one does: it sent them): owed here too, at
   * once, and then said so. Every listener answers, whatever keyspace it serves, so the sender can
   * count its answers against the listeners connected.
   */
  #owed ({ token, generations }: Extract<ChangeMessage, { kind: 'owed' }>): void {
    if (!this.#announcement.isOwn(token)) this.#options.cache.owedElsewhere(generations)
    this.#listener.notify(`heard ${token} ${this.#announcement.listener}`).catch((error: unknown) => {
      this.#options.log.warn({ err: error }, 'could not confirm an owed cache invalidation to the instance owing it')
    })
  }

  async #apply (change: DatabaseChange): Promise<void> {
    const { cache, guestsOf, log } = this.#options
    const started = performance.now()
    const generations = await generationsChanged(change, cache.keys.invalidations, guestsOf).catch((error) => {
      log.error({ err: error, change: change.id }, 'could not tell what a database change reached: all of it')
      return 'all' as const
    })
    const applied = { id: change.id, table: change.table, op: change.op }
    if (generations === 'all') {
      // Named after the change: every instance that hears it moves to the same epoch.
      this.#changeEpoch(`c${change.id}`, 'change')
      cache.events.emit('databaseChanged', { ...applied, rows: 'all', generations: 0, ms: performance.now() - started })
      return
    }
    await cache.invalidate(generations, undefined, change.id)
    const rows = change.rows === 'all' ? 0 : change.rows.length
    cache.events.emit('databaseChanged',
      { ...applied, rows, generations: generations.length, ms: performance.now() - started })
  }

  /** Gives every view a new epoch: every response stored so far is unreachable, on this instance. */
  #changeEpoch (epoch: string, reason: EpochReason): void {
    const { keys, events } = this.#options.cache
    if (keys.epoch === epoch) return
    keys.epoch = epoch
    events.emit('epochChanged', epoch, reason)
  }
}
