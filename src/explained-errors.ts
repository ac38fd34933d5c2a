import { ConfigError } from './config.ts'
import { EmbeddedPostgresError } from './db/embedded-postgres.ts'

/**
 * A start-up error whose message already says what to do (a bad environment, an embedded
 * PostgreSQL that cannot start) is printed alone and ends the process: a stack trace would only
 * bury it. Any other error returns, for the caller to rethrow.
 */
export function exitIfExplained (error: unknown): void {
  if (!(error instanceof ConfigError) && !(error instanceof EmbeddedPostgresError)) return
  console.error(error.message)
  process.exit(1)
}
