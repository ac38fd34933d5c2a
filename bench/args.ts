import { parseArgs } from 'node:util'
import type { Encoding } from './product.ts'
import {
  BASELINE_MODE, BENCH_ENCODINGS, DEFAULT_ENCODINGS, ENDPOINT_NAMES, MODE_NAMES, type ModeName
} from './scenarios.ts'

export interface BenchOptions {
  /** Dataset sizes (events); the matrix runs once per size. */
  events: number[]
  guestsPerEvent: number
  durationSeconds: number
  connections: number
  rounds: number
  quick: boolean
  check: boolean
  /** Only what bench/thresholds.json reads: its rows, its steps, the instruction count of its modes. */
  gated: boolean
  /** Two saved runs to compare instead of measuring. */
  compare: [string, string] | undefined
  /** Only these modes (default all); the baseline is measured in any case. */
  modes: ModeName[] | undefined
  /** Only these endpoints (default all). */
  endpoints: string[] | undefined
  /** The codings every row is measured in, one `Accept-Encoding` each (default identity and br). */
  encodings: Encoding[]
  outputDir: string
  /** Also write the Markdown report here. */
  reportFile: string | undefined
  /** The instruction count: after the rounds (`also`, when valgrind is there), alone, or not at all. */
  instructions: 'also' | 'only' | 'skip'
}

export const USAGE = `usage: npm run bench -- [options]
  --events N[,N…]          dataset sizes in events, one matrix each (default 10000)
  --guests-per-event M     guests per event (default 10)
  --duration S             seconds per measurement (default 10; --quick 2)
  --connections C          concurrent connections (default 20)
  --rounds R               rounds; every row is measured once per round (default 3)
  --modes a,b              only these: ${MODE_NAMES.join(', ')}
                           (${BASELINE_MODE} is always measured: speed-ups and the ceiling's bytes need it)
  --endpoints a,b          only these: ${ENDPOINT_NAMES.join(', ')}
  --encodings a,b          every row once per coding its requests accept: ${BENCH_ENCODINGS.join(', ')}
                           (default ${DEFAULT_ENCODINGS.join(',')})
  --quick                  a short run for CI (2 s rows, 3 rounds, 1000 events)
  --check                  compare ratios with bench/thresholds.json; exit 1 naming any that fell short
  --gated                  measure only what bench/thresholds.json reads (CI: --quick --gated --check)
  --instructions-only      only count instructions per request (callgrind), no throughput rounds
  --no-instructions        leave the instruction count out
  --compare A.json B.json  print the change between two saved runs, then exit
  --out DIR                where results go (default bench/results)
  --report FILE            also write the Markdown report to FILE (e.g. bench/REPORT.md)`

export class UsageError extends Error {
  override name = 'UsageError'
}

function positiveInteger (flag: string, value: string): number {
  const number = Number(value)
  if (!Number.isInteger(number) || number < 1) {
    throw new UsageError(`${flag} must be a positive whole number, got ${JSON.stringify(value)}`)
  }
  return number
}

/** A comma-separated list of known names, or undefined when the flag is absent or empty. */
function names<Name extends string> (
  flag: string,
  value: string | undefined,
  known: readonly Name[]
): Name[] | undefined {
  const list = value?.split(',').map((name) => name.trim()).filter(Boolean)
  if (!list || list.length === 0) return undefined
  for (const name of list) {
    if (!(known as readonly string[]).includes(name)) {
      throw new UsageError(`${flag}: unknown name ${JSON.stringify(name)}; known: ${known.join(', ')}`)
    }
  }
  return list as Name[]
}

function parse (argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        events: { type: 'string' },
        'guests-per-event': { type: 'string', default: '10' },
        duration: { type: 'string' },
        connections: { type: 'string', default: '20' },
        rounds: { type: 'string', default: '3' },
        modes: { type: 'string' },
        endpoints: { type: 'string' },
        encodings: { type: 'string' },
        quick: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        gated: { type: 'boolean', default: false },
        compare: { type: 'boolean', default: false },
        out: { type: 'string', default: 'bench/results' },
        report: { type: 'string' },
        'instructions-only': { type: 'boolean', default: false },
        'no-instructions': { type: 'boolean', default: false }
      }
    })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

export function parseBenchArgs (argv: string[]): BenchOptions {
  const { values, positionals } = parse(argv)
  let compare: [string, string] | undefined
  if (values.compare) {
    if (positionals.length !== 2) throw new UsageError('--compare takes two result files: --compare A.json B.json')
    compare = [positionals[0]!, positionals[1]!]
  } else if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  }
  if (values.report === '') throw new UsageError('--report takes a file name: --report bench/REPORT.md')
  if (values['instructions-only'] && values['no-instructions']) {
    throw new UsageError('--instructions-only and --no-instructions contradict each other: give one')
  }
  const events = values.events ?? (values.quick ? '1000' : '10000')
  return {
    events: events.split(',').map((size) => positiveInteger('--events', size.trim())),
    guestsPerEvent: positiveInteger('--guests-per-event', values['guests-per-event']),
    durationSeconds: positiveInteger('--duration', values.duration ?? (values.quick ? '2' : '10')),
    connections: positiveInteger('--connections', values.connections),
    rounds: positiveInteger('--rounds', values.rounds),
    quick: values.quick,
    check: values.check,
    gated: values.gated,
    compare,
    modes: names('--modes', values.modes, MODE_NAMES),
    endpoints: names('--endpoints', values.endpoints, ENDPOINT_NAMES),
    encodings: names('--encodings', values.encodings, BENCH_ENCODINGS) ?? [...DEFAULT_ENCODINGS],
    outputDir: values.out,
    reportFile: values.report,
    instructions: values['instructions-only'] ? 'only' : values['no-instructions'] ? 'skip' : 'also'
  }
}

/** The command line as a user would type it again (arguments with spaces or quotes single-quoted). */
export function commandLine (argv: readonly string[]): string {
  const quoted = argv.map((arg) => /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)
  return ['npm run bench', ...(argv.length > 0 ? ['--', ...quoted] : [])].join(' ')
}
