// npm run db:migrate: applies pending migrations to DATABASE_URL (or the embedded database).
import { loadConfig } from '../config.ts'
import { exitIfExplained } from '../explained-errors.ts'
import { withDatabase } from '../db/connection.ts'
import { migrate } from '../db/migrate.ts'

try {
  await withDatabase(loadConfig(), async (pool) => {
    const applied = await migrate(pool)
    console.log(applied.length > 0 ? `applied migration(s) ${applied.join(', ')}` : 'schema already up to date')
  })
} catch (error) {
  exitIfExplained(error)
  throw error
}
