import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import { CommitOutcomeUnknownError, DatabaseUnavailableError, isConnectionLost } from '../errors.ts'
import type { Queryable } from './queryable.ts'

/** A connection that can also run several statements as one transaction. */
export interface Transactional extends Queryable {
  /**
   * Runs `work` in one transaction on one connection. A failure before COMMIT rolls back; a COMMIT
   * that does not answer throws a CommitOutcomeUnknownError carrying what `work` returned.
   */
  transaction: <T>(work: (tx: Queryable) => Promise<T>) => Promise<T>
}

/**
 * A request's view of the pool that counts its queries and their time, so every response can say
 * what it cost the database (`X-DB-Queries`, `Server-Timing: db`), and that tells "the database is
 * unreachable" (DatabaseUnavailableError, a 503) apart from "this query failed" (a 500).
 */
export class CountingQueryable implements Transactional {
  count = 0
  durationMs = 0
  readonly #pool: Pool

  constructor (pool: Pool) {
    this.#pool = pool
  }

  query<Row extends QueryResultRow> (query: QueryConfig<unknown[]>): Promise<QueryResult<Row>> {
    return this.#withClient((client) => this.#counted(() => client.query<Row>(query)))
  }

  transaction<T> (work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#withClient(async (client) => {
      const run = (text: string) => this.#counted(() => client.query(text))
      const tx: Queryable = {
        query: <Row extends QueryResultRow>(query: QueryConfig<unknown[]>) =>
          this.#counted(() => client.query<Row>(query))
      }
      await run('BEGIN')
      let result: T
      try {
        result = await work(tx)
      } catch (error) {
        // A lost connection has rolled back already (the server aborts a session's open transaction).
        await run('ROLLBACK').catch(() => {})
        throw error
      }
      try {
        await run('COMMIT')
      } catch (error) {
        // The server may have committed before the answer was lost: the caller must act as if it had.
        if (isConnectionLost(error)) throw new CommitOutcomeUnknownError(error, result)
        throw error
      }
      return result
    })
  }

  async #counted<Result> (query: () => Promise<Result>): Promise<Result> {
    const started = performance.now()
    try {
      return await query()
    } finally {
      this.count++
      this.durationMs += performance.now() - started
    }
  }

  async #withClient<Result> (use: (client: PoolClient) => Promise<Result>): Promise<Result> {
    const started = performance.now()
    let client: PoolClient
    try {
      client = await this.#pool.connect()
    } catch (error) {
      throw new DatabaseUnavailableError(error)
    } finally {
      this.durationMs += performance.now() - started
    }
    // A checked-out client has no listener of the pool's: when its server session is killed, the
    // socket's end can emit 'error' after the query has already failed, and an unheard 'error'
    // event would crash the process. Listen while it is ours.
    let connectionError: Error | undefined
    const onError = (error: Error) => { connectionError = error }
    client.on('error', onError)
    try {
      const result = await use(client)
      client.off('error', onError)
      client.release(connectionError)
      return result
    } catch (error) {
      // A dead connection must not go back to the pool; one that merely ran a bad query may.
      const lost = connectionError !== undefined || isConnectionLost(error)
      client.off('error', onError)
      client.release(lost ? connectionError ?? error as Error : undefined)
      if (error instanceof DatabaseUnavailableError) throw error
      throw lost ? new DatabaseUnavailableError(error) : error
    }
  }
}
