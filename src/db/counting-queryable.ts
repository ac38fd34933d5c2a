import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import { DatabaseUnavailableError, isConnectionLost } from '../errors.ts'
import type { Queryable } from './queryable.ts'

/**
 * A request's view of the pool that counts its queries and their time, so every response can say
 * what it cost the database (`X-DB-Queries`, `Server-Timing: db`), and that tells "the database is
 * unreachable" (DatabaseUnavailableError, a 503) apart from "this query failed" (a 500).
 */
export class CountingQueryable implements Queryable {
  count = 0
  durationMs = 0
  readonly #pool: Pool

  constructor (pool: Pool) {
    this.#pool = pool
  }

  async query<Row extends QueryResultRow> (query: QueryConfig<unknown[]>): Promise<QueryResult<Row>> {
    const started = performance.now()
    let client: PoolClient
    try {
      client = await this.#pool.connect()
    } catch (error) {
      this.durationMs += performance.now() - started
      throw new DatabaseUnavailableError(error)
    }
    // A checked-out client has no listener of the pool's: when its server session is killed, the
    // socket's end can emit 'error' after the query has already failed, and an unheard 'error'
    // event would crash the process. Listen while it is ours.
    let connectionError: Error | undefined
    const onError = (error: Error) => { connectionError = error }
    client.on('error', onError)
    try {
      const result = await client.query<Row>(query)
      client.off('error', onError)
      client.release(connectionError)
      return result
    } catch (error) {
      // A dead connection must not go back to the pool; one that merely ran a bad query may.
      const lost = connectionError !== undefined || isConnectionLost(error)
      client.off('error', onError)
      client.release(lost ? connectionError ?? error as Error : undefined)
      throw lost ? new DatabaseUnavailableError(error) : error
    } finally {
      this.count++
      this.durationMs += performance.now() - started
    }
  }
}
