import { APP_SERVER, type Encoding } from './product.ts'
import { measureCompression } from './steps/compression-cost.ts'
import { dropDataset, prepareDataset } from './harness/provision.ts'
import { measureRounds, planRows } from './steps/rounds.ts'
import { summarise, type DatasetResult } from './results.ts'
import { BASELINE_MODE, referencesWith, type Endpoint, type Mode } from './scenarios.ts'
import { startServer, type ServerProcess } from './harness/processes.ts'
import { identityBytes, serverEnv, startServers, stopServers, type Servers } from './harness/servers.ts'
import type { Step, StepResult } from './steps/index.ts'
import type { RowKey } from './gate.ts'

export interface DatasetContext {
  postgresUrl: string
  redisUrl: string | undefined
  modes: readonly Mode[]
  endpoints: readonly Endpoint[]
  encodings: readonly Encoding[]
  /** The steps to run after the rounds, each with the modes it measures. */
  steps: ReadonlyArray<{ step: Step, modes: readonly Mode[] }>
  /** Whether the rounds measure a row of the matrix (`--gated`: only those a threshold reads). */
  measuresRow: (row: RowKey) => boolean
  guestsPerEvent: number
  durationSeconds: number
  connections: number
  rounds: number
  quick: boolean
}

/**
 * Seeds a fresh database of `events` events, times what compressing its list pages costs a miss,
 * measures the matrix in rounds, then the steps; drops it again.
 */
export async function measureDataset (context: DatasetContext, events: number): Promise<DatasetResult> {
  const { guestsPerEvent, modes, durationSeconds, connections, rounds, quick } = context
  console.log(`\nseeding ${events} events × ${guestsPerEvent} guests…`)
  const databaseUrl = await prepareDataset(context.postgresUrl, events, guestsPerEvent)
  const servers: Servers = new Map()
  const serversOf = (mode: string) => servers.get(mode)!
  try {
    const { encodings } = context
    const eventsList = await startServers(servers, { modes, databaseUrl, redisUrl: context.redisUrl, encodings })
    const guestsList = await identityBytes(`${serversOf(BASELINE_MODE)[0]!.url}/guests?limit=100`)
    const compression = [
      await measureCompression('events-list', eventsList.identity),
      await measureCompression('guests-list', guestsList)
    ]
    const references = referencesWith(context.redisUrl !== undefined).map((reference) => reference.name)
    const plan = planRows(modes, context.endpoints, encodings, references).filter((row) => {
      return context.measuresRow({ mode: row.mode, endpoint: row.endpoint.name, encoding: row.encoding })
    })
    const dataset = { events, guestsPerEvent }
    const rows = await measureRounds({ plan, servers: serversOf, dataset, rounds, durationSeconds, connections })
    const startInstances = async (mode: Mode, count: number, overrides: Record<string, string> = {}) => {
      const instances: ServerProcess[] = []
      servers.set(`${mode.name} (${servers.size})`, instances)
      const env = { ...serverEnv(mode, { databaseUrl, redisUrl: context.redisUrl }), ...overrides }
      for (let i = 0; i < count; i++) instances.push(await startServer(APP_SERVER, env))
      return instances
    }
    let measured: StepResult = {}
    for (const { step, modes: measures } of context.steps) {
      const stepContext = {
        modes: measures, servers: serversOf, durationSeconds, connections, rounds, quick, databaseUrl, startInstances
      }
      measured = { ...measured, ...await step.run(stepContext) }
    }
    return {
      events,
      guestsPerEvent,
      eventsListBytes: eventsList.identity.length,
      eventsListEncodedBytes: eventsList.encoded,
      compression,
      rows,
      summary: summarise(rows, modes),
      mix: [],
      ...measured
    }
  } finally {
    await stopServers(servers)
    await dropDataset(context.postgresUrl, databaseUrl)
  }
}
