// tap's `after` step: stop the embedded PostgreSQL that before.ts started (if it did), and delete its
// data: a test run leaves nothing behind (the next one initialises a new one in a few seconds).
import { removeEmbeddedPostgres } from '../../src/db/embedded-postgres.ts'
import { TEST_POSTGRES_DIR } from '../support/database.ts'

if (!process.env.DATABASE_URL) await removeEmbeddedPostgres(TEST_POSTGRES_DIR)
