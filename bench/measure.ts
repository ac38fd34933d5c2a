import type { BenchOptions } from './args.ts'
import { callgrindAvailable } from './instructions/callgrind.ts'
import { measureDataset } from './dataset.ts'
import { gatedRun, loadThresholds, type GatedRun } from './gate.ts'
import { describeEnvironment } from './harness/environment.ts'
import type { InstructionResult } from './instructions/results.ts'
import { measureInstructions } from './instructions/count.ts'
import { wrkAvailable } from './steps/process-scaling.ts'
import { provision } from './harness/provision.ts'
import type { BenchResults, DatasetResult } from './results.ts'
import { ENDPOINTS, selectModes } from './scenarios.ts'
import { planSteps, STEPS } from './steps/index.ts'

/** Provisions the services, measures every dataset size, and releases the services again. */
export async function measure (options: BenchOptions, command: string): Promise<BenchResults> {
  const startedAt = new Date()
  const services = await provision()
  const environment = await describeEnvironment(services.postgresUrl, services.redisUrl)
  const gated = options.gated ? gatedRun(await loadThresholds()) : undefined
  const { modes, absent } = selectModes(requestedModes(options, gated), services.redisUrl !== undefined)
  const stepsRun = STEPS.filter((step) => !gated || gated.steps.includes(step.name))
  const steps = planSteps(stepsRun, { modes, absent, wrk: await wrkAvailable(), endpoints: options.endpoints })
  const counting = options.instructions !== 'skip' && await callgrindAvailable()
  const notes = [...services.notes, ...(options.instructions === 'only' ? [] : steps.notes)]
  if (gated) notes.push('only what bench/thresholds.json reads is measured: --gated')
  if (options.instructions === 'only') notes.push('throughput rounds and steps not measured: --instructions-only')
  if (options.instructions === 'skip') notes.push('instruction counts not measured: --no-instructions')
  else if (!counting) notes.push('instruction counts not measured: valgrind is not on the PATH (Debian\'s valgrind)')
  const endpoints = ENDPOINTS.filter((endpoint) => !options.endpoints || options.endpoints.includes(endpoint.name))
  console.log(notes.join('\n'))

  const { guestsPerEvent, durationSeconds, connections, rounds, quick } = options
  const context = {
    postgresUrl: services.postgresUrl,
    redisUrl: services.redisUrl,
    modes,
    endpoints,
    encodings: options.encodings,
    steps: steps.run,
    measuresRow: gated?.measuresRow ?? (() => true),
    guestsPerEvent,
    durationSeconds,
    connections,
    rounds,
    quick
  }
  const datasets: DatasetResult[] = []
  let instructions: InstructionResult | undefined
  try {
    if (options.instructions !== 'only') {
      for (const events of options.events) datasets.push(await measureDataset(context, events))
    }
    if (counting) {
      const setup = { redisUrl: services.redisUrl, modes, encodings: options.encodings }
      instructions = await measureInstructions(services.postgresUrl, setup)
    }
  } finally {
    await services.release()
  }
  return {
    format: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command,
    environment,
    options: { durationSeconds, connections, rounds, quick },
    notes,
    datasets,
    ...(instructions && { instructions })
  }
}

/** `--modes`, and with `--gated` only those of them a threshold reads. */
function requestedModes (options: BenchOptions, gated: GatedRun | undefined): BenchOptions['modes'] {
  if (!gated) return options.modes
  return gated.modes.filter((mode) => !options.modes || options.modes.includes(mode))
}
