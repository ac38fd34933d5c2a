import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheLog, GuardedStore } from './guarded-store.ts'
import type { OwedJournal } from './owed-journal.ts'
import { OWED_REPLAY } from '../tuning.ts'

/**
 * The generations Redis may not have the new value of: a write's invalidation failed, or was not
 * sent because its shard was down. A view depending on one is not read from the cache (BYPASS)
 * until it has been replayed; other views are unaffected. Replays run per shard that answers,
 * soon after something is owed and each time a shard's breaker closes, backing off while they
 * fail. With a journal, what is owed is also written down in PostgreSQL, so that it outlives the
 * process: the next instance to start takes it over (`restore`).
 */
export class OwedLedger {
  readonly #store: GuardedStore
  readonly #journal: OwedJournal | undefined
  readonly #log: CacheLog
  readonly #owed = new Set<string>()
  /** Generations being replayed right now: still unsettled, but a write may invalidate them directly. */
  readonly #replaying = new Set<string>()
  /** Journal rows of owed generations, settled once a replay that began after them succeeds. */
  readonly #journalRows = new Map<string, number[]>()
  /** Journal writes under way, awaited on close (they need the pool that closes after the cache). */
  readonly #journalWork = new Set<Promise<void>>()
  #replayTimer: NodeJS.Timeout | undefined
  #replayRunning: Promise<void> | undefined
  #replayDelayMs: number = OWED_REPLAY.delayMs
  #closed = false

  constructor (options: { store: GuardedStore, journal?: OwedJournal, log: CacheLog }) {
    this.#store = options.store
    this.#journal = options.journal
    this.#log = options.log
    this.#store.onShardClosed(() => this.replayNow())
  }

  /** Owed or being replayed: how many generations are not settled yet. */
  get size (): number {
    return this.#owed.size + this.#replaying.size
  }

  /** Whether a view depending on `generations` must skip the cache. */
  unsettled (generations: readonly string[]): boolean {
    if (this.size === 0) return false
    return generations.some((generation) => this.#owed.has(generation) || this.#replaying.has(generation))
  }

  owe (generations: readonly string[]): void {
    for (const generation of generations) this.#owed.add(generation)
    this.#record(generations)
    this.#scheduleReplay()
  }

  /**
   * Owes what another instance owes (it said so on the database-change channel): not journaled
   * here, as it journaled it. Replayed at once: whichever instance reaches Redis first gives the
   * generations their new value, and the others' replays cost an extra miss at most.
   */
  adopt (generations: readonly string[]): void {
    for (const generation of generations) this.#owed.add(generation)
    this.replayNow()
  }

  /**
   * Takes over what stopped instances still owed: the journal's rows are owed here (their views are
   * BYPASS) and replayed now. Call it once, at start.
   */
  async restore (): Promise<void> {
    const rows = await this.#journal?.load() ?? []
    if (rows.length === 0) return
    for (const { id, generation } of rows) {
      this.#owed.add(generation)
      this.#addJournalRow(generation, id)
    }
    this.#log.warn({ generations: this.#owed.size }, 'replaying cache invalidations owed by a stopped instance')
    this.replayNow()
  }

  /** Replays what is owed now, to every shard that answers. */
  replayNow (): void {
    clearTimeout(this.#replayTimer)
    this.#replayTimer = undefined
    this.#replay()
  }

  /**
   * Stops replaying (the app is closing), after one last try, bounded in time, on every shard
   * whether its breaker is open or not. What is still owed then stays in the journal for the next
   * instance to start; without a journal, it is lost, and said so.
   */
  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#replayTimer)
    const deadline = sleep(OWED_REPLAY.finalMs, undefined, { ref: false })
    await Promise.race([(async () => {
      await this.#replayRunning
      await this.#replay(true)
    })(), deadline])
    await Promise.race([Promise.all(this.#journalWork), deadline])
    const owed = this.size
    if (owed === 0) return
    if (this.#journal) {
      this.#log.warn({ generations: owed },
        'cache invalidations still owed at shutdown: journaled in PostgreSQL, replayed by the next instance to start')
    } else {
      this.#log.error({ generations: owed },
        'cache invalidations still owed at shutdown are lost: their views may be served stale until their TTL')
    }
  }

  #scheduleReplay (): void {
    if (this.#replayTimer !== undefined || this.#replayRunning !== undefined || this.#closed) return
    this.#replayTimer = setTimeout(() => {
      this.#replayTimer = undefined
      this.#replay()
    }, this.#replayDelayMs)
    this.#replayTimer.unref()
  }

  /**
   * One replay per shard that answers, all at once. Each shard's owed generations are taken out
   * before they are sent (a write landing meanwhile owes them again rather than being forgotten
   * with them) and stay unsettled until Redis has acknowledged them; what fails is owed again.
   * The last replay, on close (`final`), tries every shard and leaves the breakers alone.
   */
  #replay (final = false): Promise<void> {
    if (this.#owed.size === 0 || this.#replayRunning) return Promise.resolve()
    let failed = false
    const running = Promise.all(this.#store.batches(this.#owed, final).map(async (batch) => {
      for (const generation of batch.generations) {
        this.#owed.delete(generation)
        this.#replaying.add(generation)
      }
      try {
        await this.#store.replay(batch, final)
        for (const generation of batch.generations) this.#replaying.delete(generation)
        this.#settle(batch.generations)
      } catch {
        failed = true
        for (const generation of batch.generations) {
          this.#replaying.delete(generation)
          this.#owed.add(generation)
        }
      }
    })).then(() => {
      this.#replayRunning = undefined
      this.#replayDelayMs = failed ? Math.min(this.#replayDelayMs * 2, OWED_REPLAY.maxDelayMs) : OWED_REPLAY.delayMs
      if (this.#owed.size > 0) this.#scheduleReplay()
    })
    this.#replayRunning = running
    return running
  }

  /** Writes owed generations to the journal; a row whose replay already succeeded is settled at once. */
  #record (generations: readonly string[]): void {
    const journal = this.#journal
    if (journal === undefined) return
    const work = journal.record(generations).then(async (rows) => {
      const paid: number[] = []
      for (const { id, generation } of rows) {
        if (this.#owed.has(generation) || this.#replaying.has(generation)) this.#addJournalRow(generation, id)
        else paid.push(id)
      }
      await journal.settle(paid)
    }).catch((error: unknown) => {
      this.#log.warn({ err: error, generations: generations.length }, 'could not journal owed cache invalidations')
    })
    this.#trackJournalWork(work)
  }

  /** Deletes the journal rows of generations just replayed, unless a write owed them again meanwhile. */
  #settle (generations: readonly string[]): void {
    const journal = this.#journal
    if (journal === undefined) return
    const ids: number[] = []
    for (const generation of generations) {
      if (this.#owed.has(generation)) continue
      ids.push(...this.#journalRows.get(generation) ?? [])
      this.#journalRows.delete(generation)
    }
    if (ids.length === 0) return
    this.#trackJournalWork(journal.settle(ids).catch((error: unknown) => {
      this.#log.warn({ err: error, rows: ids.length }, 'could not settle replayed cache invalidations in the journal')
    }))
  }

  #addJournalRow (generation: string, id: number): void {
    const ids = this.#journalRows.get(generation)
    if (ids) ids.push(id)
    else this.#journalRows.set(generation, [id])
  }

  #trackJournalWork (work: Promise<void>): void {
    this.#journalWork.add(work)
    work.finally(() => this.#journalWork.delete(work))
  }
}
