// The measurements after the rounds, as data: what each needs, and how it runs. The runner runs
// those whose needs are met and notes why the others were not measured.
import { measureDatabaseLag } from './database-lag.ts'
import { measureExpiry } from './expiry.ts'
import { measureInvalidationLag } from './lag.ts'
import { runMix } from './mix.ts'
import { measureProcessScaling, processScalingLine } from './process-scaling.ts'
import type { ServerProcess } from '../harness/processes.ts'
import type { DatasetResult } from '../results.ts'
import { MIX_ENDPOINT, MODE, type Mode, type ModeName } from '../scenarios.ts'

export interface StepNeeds {
  /** Every one of these modes, or (a filter) at least one mode of the run that passes it. */
  modes?: readonly ModeName[] | ((mode: Mode) => boolean)
  /** wrk on the PATH. */
  wrk?: boolean
  /** This name among `--endpoints` (or no `--endpoints`). */
  endpoint?: string
}

export interface StepContext {
  /** The modes the step measures: its list, or those of the run that pass its filter. */
  modes: readonly Mode[]
  servers: (mode: string) => ServerProcess[]
  durationSeconds: number
  connections: number
  rounds: number
  quick: boolean
  /** The dataset's database, for a step that writes to it as another client would. */
  databaseUrl: string
  /**
   * Starts `count` more instances of `mode` of the step's own, with `env` over the mode's (stopped
   * with the rest if the step fails).
   */
  startInstances: (mode: Mode, count: number, env?: Record<string, string>) => Promise<ServerProcess[]>
}

export type StepResult = Partial<Pick<DatasetResult,
  'mix' | 'invalidationLag' | 'databaseLag' | 'expiry' | 'processScaling'>>

/** The cache modes measured with instances of a step's own: the lag of SQL writes, expiry under load. */
const STORE_MODES: readonly ModeName[] = [MODE.memory, MODE.redis, MODE.tiered]

/** The expiry step's TTL: short, so that a few seconds of load see it run out a few times. */
const EXPIRY_TTL_SECONDS = 1

export interface Step {
  name: string
  /** What it measures, as a note names it when it is skipped. */
  describe: string
  needs: StepNeeds
  run: (context: StepContext) => Promise<StepResult>
}

const singleInstance = (mode: Mode) => (mode.instances ?? 1) === 1

export const STEPS: readonly Step[] = [
  {
    name: 'mix',
    describe: 'the read/write mix',
    // One instance per mode: across instances, tiered mode's stale window is the lag step's. The
    // compressing peer differs from memory mode only in how a hit is sent.
    needs: {
      endpoint: MIX_ENDPOINT,
      modes: (mode) => singleInstance(mode) && mode.name !== MODE.offNaive && mode.peerOf === undefined
    },
    run: async ({ modes, servers, durationSeconds, connections }) => {
      const mix: DatasetResult['mix'] = []
      for (const mode of modes) {
        const options = { durationSeconds, connections, hotEvents: 100, writeShare: 0.05 }
        const result = await runMix(servers(mode.name)[0]!, options)
        mix.push({ mode: mode.name, ...result })
        console.log(`[mix] ${mode.name.padEnd(10)} ${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  ` +
          `hits ${(result.hitRatio * 100).toFixed(0)}%  stale reads ${result.staleReads}`)
      }
      return { mix }
    }
  },
  {
    name: 'lag',
    describe: 'invalidation lag across two tiered processes',
    needs: { modes: [MODE.tieredPair] },
    run: async ({ servers, quick }) => {
      const lag = await measureInvalidationLag(servers(MODE.tieredPair), { samples: quick ? 50 : 200, hotEvents: 100 })
      console.log(`[lag] ${MODE.tieredPair}: write on instance 1 → instance 2 serves it: p50 ${lag.p50} ms, ` +
        `p99 ${lag.p99} ms, max ${lag.max} ms (${lag.samples} writes)`)
      return { invalidationLag: lag }
    }
  },
  {
    name: 'lag-db',
    describe: 'the lag of writes made in SQL, across two instances',
    needs: { modes: (mode) => STORE_MODES.includes(mode.name) },
    run: async ({ modes, startInstances, databaseUrl, quick }) => {
      const databaseLag: NonNullable<DatasetResult['databaseLag']> = []
      for (const mode of modes) {
        const pair = await startInstances(mode, 2)
        try {
          const lag = await measureDatabaseLag(pair, databaseUrl, { samples: quick ? 50 : 200, hotEvents: 100 })
          databaseLag.push({ mode: mode.name, ...lag })
          console.log(`[lag-db] ${mode.name.padEnd(10)} SQL COMMIT → both instances serve it: p50 ${lag.p50} ms, ` +
            `p99 ${lag.p99} ms, max ${lag.max} ms (${lag.samples} writes)`)
        } finally {
          for (const instance of pair) await instance.stop()
        }
      }
      return { databaseLag }
    }
  },
  {
    name: 'expiry',
    describe: 'a hot key expiring under load, with and without refresh-ahead',
    needs: { modes: (mode) => STORE_MODES.includes(mode.name) },
    run: async ({ modes, startInstances, connections, quick }) => {
      const expiry: NonNullable<DatasetResult['expiry']> = []
      const options = { durationSeconds: quick ? 4 : 10, connections, ttlSeconds: EXPIRY_TTL_SECONDS }
      for (const mode of modes) {
        for (const refreshAhead of [false, true]) {
          const env = { CACHE_TTL: String(EXPIRY_TTL_SECONDS), CACHE_REFRESH_AHEAD: String(refreshAhead) }
          const [instance] = await startInstances(mode, 1, env)
          try {
            const result = { mode: mode.name, refreshAhead, ...await measureExpiry(instance!, options) }
            expiry.push(result)
            console.log(`[expiry] ${mode.name.padEnd(10)} refresh-ahead ${refreshAhead ? 'on ' : 'off'}: ` +
              `${result.misses} reads waited for a load over ${result.expiries} expiries; ` +
              `p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms`)
          } finally {
            await instance!.stop()
          }
        }
      }
      return { expiry }
    }
  },
  {
    name: 'scaling',
    describe: 'process scaling (one vs two tiered processes under wrk)',
    needs: { modes: [MODE.tiered, MODE.tieredPair], wrk: true },
    run: async ({ servers, rounds, durationSeconds, connections }) => {
      // Five rounds of 4 s at least: a ratio of two short runs on 2 cores spreads wide.
      const options = {
        rounds: Math.max(rounds, 5),
        durationSeconds: Math.max(durationSeconds, 4),
        connections,
        path: '/events?limit=100'
      }
      const scaling = await measureProcessScaling(servers(MODE.tiered)[0]!, servers(MODE.tieredPair), options)
      console.log(`[scaling] ${processScalingLine(scaling)}`)
      return { processScaling: scaling }
    }
  }
]

/** What the run has, for judging a step's needs. */
export interface RunFacts {
  modes: readonly Mode[]
  /** Why each mode left out of the run is absent. */
  absent: ReadonlyMap<ModeName, string>
  wrk: boolean
  endpoints: readonly string[] | undefined
}

export interface StepPlan {
  run: Array<{ step: Step, modes: Mode[] }>
  /** One line per step left out, naming what it lacked. */
  notes: string[]
}

/** The steps whose needs the run meets, each with the modes it measures, and a note for each other one. */
export function planSteps (steps: readonly Step[], facts: RunFacts): StepPlan {
  const plan: StepPlan = { run: [], notes: [] }
  for (const step of steps) {
    const { modes, missing } = meet(step.needs, facts)
    if (missing.length === 0) plan.run.push({ step, modes })
    else plan.notes.push(`${step.describe} not measured: ${missing.join('; ')}`)
  }
  return plan
}

function meet (needs: StepNeeds, facts: RunFacts): { modes: Mode[], missing: string[] } {
  const missing: string[] = []
  let modes: Mode[] = []
  if (typeof needs.modes === 'function') {
    modes = facts.modes.filter(needs.modes)
    if (modes.length === 0) missing.push('none of the modes it measures is run')
  } else if (needs.modes) {
    for (const name of needs.modes) {
      const mode = facts.modes.find((candidate) => candidate.name === name)
      if (mode) modes.push(mode)
      else missing.push(facts.absent.get(name) ?? `${name} is not run`)
    }
  }
  if (needs.wrk && !facts.wrk) missing.push('wrk is not on the PATH')
  if (needs.endpoint && facts.endpoints && !facts.endpoints.includes(needs.endpoint)) {
    missing.push(`${needs.endpoint} is not among --endpoints`)
  }
  return { modes, missing }
}
