import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
import { buildApp } from './app.ts'
import { loadConfig, type Config } from './config.ts'
import { exitIfExplained } from './explained-errors.ts'
import { closeOnSignal } from './graceful-close.ts'
import { startBanner } from './start-banner.ts'
import { runPrimary } from './workers.ts'

// A `.env` file (copied from .env.example) fills in what the real environment does not set.
if (existsSync('.env')) process.loadEnvFile('.env')

let config
try {
  config = loadConfig()
} catch (error) {
  exitIfExplained(error)
  throw error
}

// WORKERS=1: this process serves. More: it becomes the cluster primary, and each worker it forks
// runs this file again and takes the serving path.
try {
  if (config.WORKERS !== 1 && cluster.isPrimary) await runPrimary(config)
  else await serve(config)
} catch (error) {
  exitIfExplained(error)
  throw error
}

async function serve (config: Config): Promise<void> {
  const app = await buildApp(config)

  // On SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close pools and the embedded
  // database; give up after 10 s so an orchestrator's kill never has to be the way out.
  closeOnSignal(async ({ err, signal }) => {
    if (err) app.log.error({ err }, 'closing after an uncaught error')
    else app.log.info({ signal }, 'closing')
    await app.close()
  }, app.log)

  const url = await app.listen({ host: config.HOST, port: config.PORT })
  // Workers all say the same: the first one speaks for them.
  if ((cluster.worker?.id ?? 1) === 1) app.log.info(startBanner(config, { url, database: app.database }))
}
