// tap's `before` step: without DATABASE_URL, start the suite's embedded PostgreSQL once, so test
// files running in parallel share it instead of racing to initialise it.
import { serverUrl } from '../support/database.ts'

if (!process.env.DATABASE_URL) console.log(`# embedded PostgreSQL for the tests: ${await serverUrl()}`)
