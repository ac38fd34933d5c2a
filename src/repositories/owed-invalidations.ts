import type { OwedJournal, OwedRow } from '../cache/index.ts'
import type { Queryable } from '../db/queryable.ts'

/** The owed-invalidation journal in PostgreSQL, for the keyspace whose generations start with `namespace`. */
export function owedInvalidations (db: Queryable, namespace: string): OwedJournal {
  return {
    async record (generations) {
      const { rows } = await db.query<OwedRow>({
        name: 'owed-record',
        text: `INSERT INTO cache_owed_invalidations (generation) SELECT unnest($1::text[])
          RETURNING id::float8 AS id, generation`,
        values: [generations]
      })
      return rows
    },
    async settle (ids) {
      if (ids.length === 0) return
      await db.query({
        name: 'owed-settle',
        text: 'DELETE FROM cache_owed_invalidations WHERE id = ANY($1::bigint[])',
        values: [ids]
      })
    },
    async load () {
      const { rows } = await db.query<OwedRow>({
        name: 'owed-load',
        text: `SELECT id::float8 AS id, generation FROM cache_owed_invalidations
          WHERE starts_with(generation, $1) ORDER BY id`,
        values: [namespace]
      })
      return rows
    }
  }
}
