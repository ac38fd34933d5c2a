import type { QueryConfig, QueryResult, QueryResultRow } from 'pg'

/** What repositories need of a connection: a pool, a client in a transaction, or a counting wrapper. */
export interface Queryable {
  query: <Row extends QueryResultRow>(query: QueryConfig<unknown[]>) => Promise<QueryResult<Row>>
}
