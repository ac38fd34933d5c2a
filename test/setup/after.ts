// tap's `after` step: stop the embedded PostgreSQL that before.ts started (if it did).
import { stopEmbeddedPostgres } from '../../src/db/embedded-postgres.ts'
import { TEST_POSTGRES_DIR } from '../support/database.ts'

if (!process.env.DATABASE_URL) await stopEmbeddedPostgres(TEST_POSTGRES_DIR)
