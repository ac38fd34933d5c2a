/**
 * How far the read path may trust what is stored, as the database-change listener
 * (database-invalidation.ts) knows it: it alone sets these; the read path only reads them.
 */
export class ReadTrust {
  /** Every read is BYPASS while set: nothing is known yet of what the database changed (at boot). */
  readsBypassed = false
  /**
   * Set while this instance cannot hear the others (its database-change connection is lost): it
   * cannot hear what they owe. Reads go to PostgreSQL (BYPASS), and one whose load fails is served
   * what is stored, as STALE, since a write needs the PostgreSQL it cannot reach either.
   */
  sharedDistrusted = false
}
