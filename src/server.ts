import { existsSync } from 'node:fs'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'

// A `.env` file (copied from .env.example) fills in what the real environment does not set.
if (existsSync('.env')) process.loadEnvFile('.env')

let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(error.message)
  process.exit(1)
}

const app = await buildApp(config)

// On SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close pools and the embedded
// database; give up after 10 s so an orchestrator's kill never has to be the way out.
closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'closing after an uncaught error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ host: config.HOST, port: config.PORT })
