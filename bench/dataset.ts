import type { Encoding } from '../src/cache/encodings.ts'
import { measureCompression } from './compression-cost.ts'
import { dropDataset, prepareDataset } from './provision.ts'
import { measureRounds, planRows } from './rounds.ts'
import { summarise, type DatasetResult } from './results.ts'
import { BASELINE_MODE, type Endpoint, type Mode } from './scenarios.ts'
import { startServer, type ServerProcess } from './processes.ts'
import { APP, identityBytes, serverEnv, startServers, stopServers, type Servers } from './servers.ts'
import type { Step, StepResult } from './steps.ts'

export interface DatasetContext {
  postgresUrl: string
  redisUrl: string | undefined
  modes: readonly Mode[]
  endpoints: readonly Endpoint[]
  encodings: readonly Encoding[]
  /** The steps to run after the rounds, each with the modes it measures. */
  steps: ReadonlyArray<{ step: Step, modes: readonly Mode[] }>
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
    const plan = planRows(modes, context.endpoints, encodings)
    const dataset = { events, guestsPerEvent }
    const rows = await measureRounds({ plan, servers: serversOf, dataset, rounds, durationSeconds, connections })
    const startInstances = async (mode: Mode, count: number, overrides: Record<string, string> = {}) => {
      const instances: ServerProcess[] = []
      servers.set(`${mode.name} (${servers.size})`, instances)
      const env = { ...serverEnv(mode, { databaseUrl, redisUrl: context.redisUrl }), ...overrides }
      for (let i = 0; i < count; i++) instances.push(await startServer(APP, env))
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
