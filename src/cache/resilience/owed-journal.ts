/** One journaled owed invalidation: a generation Redis may still hold the old value of. */
export interface OwedRow {
  id: number
  generation: string
}

/**
 * Where owed invalidations are written down outside the process (PostgreSQL), so that they
 * outlive it. A row may be settled (deleted) once a replay of its generation that began after
 * the row was owed has succeeded; a row left behind costs one extra invalidation when it is
 * replayed again, never a stale read.
 */
export interface OwedJournal {
  record: (generations: readonly string[]) => Promise<OwedRow[]>
  settle: (ids: readonly number[]) => Promise<void>
  /** Every row of this keyspace, from any instance (those of a stopped one are what matters). */
  load: () => Promise<OwedRow[]>
}
