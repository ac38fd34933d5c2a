// npm run db:migrate: applies pending migrations to DATABASE_URL (or the embedded database).
import { loadConfig } from '../config.ts'
import { withDatabase } from './connection.ts'
import { migrate } from './migrate.ts'

await withDatabase(loadConfig(), async (pool) => {
  const applied = await migrate(pool)
  console.log(applied.length > 0 ? `applied migration(s) ${applied.join(', ')}` : 'schema already up to date')
})
