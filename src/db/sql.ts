/**
 * SQL fragments shared by the repositories. They are constants (no input is ever concatenated
 * into SQL; values always travel as parameters).
 */

/**
 * A timestamptz rendered by PostgreSQL exactly as JavaScript's `toISOString()` would: the response
 * serializer then copies a string instead of allocating a Date per field per row.
 */
export function isoTimestamp (column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
}

/** A page of rows plus the total, in one statement: one row with NULL columns when the page is empty. */
export interface PageRow { count: number }

export interface PageParams { limit: number, offset: number }
