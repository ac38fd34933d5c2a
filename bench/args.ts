import { parseArgs } from 'node:util'

export interface BenchOptions {
  /** Dataset sizes (events); the matrix runs once per size. */
  events: number[]
  guestsPerEvent: number
  durationSeconds: number
  connections: number
  rounds: number
  quick: boolean
  check: boolean
  /** Two saved runs to compare instead of measuring. */
  compare: [string, string] | undefined
  /** Only these endpoints (default all). */
  endpoints: string[] | undefined
  outputDir: string
}

export const USAGE = `usage: npm run bench -- [options]
  --events N[,N…]          dataset sizes in events, one matrix each (default 10000)
  --guests-per-event M     guests per event (default 10)
  --duration S             seconds per measurement (default 10; --quick 2)
  --connections C          concurrent connections (default 20)
  --rounds R               rounds; every row is measured once per round (default 3)
  --endpoints a,b          only these: events-list, event-detail, guests-list, guest-detail, mix
  --quick                  a short run for CI (2 s rows, 3 rounds, 1000 events)
  --check                  compare ratios with bench/thresholds.json; exit 1 naming any that fell short
  --compare A.json B.json  print the change between two saved runs, then exit
  --out DIR                where results go (default bench/results)`

export class UsageError extends Error {
  override name = 'UsageError'
}

function positiveInteger (flag: string, value: string): number {
  const number = Number(value)
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`${flag} must be a positive whole number, got ${JSON.stringify(value)}`)
  return number
}

export function parseBenchArgs (argv: string[]): BenchOptions {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        events: { type: 'string' },
        'guests-per-event': { type: 'string', default: '10' },
        duration: { type: 'string' },
        connections: { type: 'string', default: '20' },
        rounds: { type: 'string', default: '3' },
        endpoints: { type: 'string' },
        quick: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        compare: { type: 'boolean', default: false },
        out: { type: 'string', default: 'bench/results' }
      }
    })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  let compare: [string, string] | undefined
  if (values.compare) {
    if (positionals.length !== 2) throw new UsageError('--compare takes two result files: --compare A.json B.json')
    compare = [positionals[0]!, positionals[1]!]
  } else if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  }
  const endpoints = values.endpoints?.split(',').map((name) => name.trim()).filter(Boolean)
  return {
    events: (values.events ?? (values.quick ? '1000' : '10000')).split(',').map((size) => positiveInteger('--events', size.trim())),
    guestsPerEvent: positiveInteger('--guests-per-event', values['guests-per-event']),
    durationSeconds: positiveInteger('--duration', values.duration ?? (values.quick ? '2' : '10')),
    connections: positiveInteger('--connections', values.connections),
    rounds: positiveInteger('--rounds', values.rounds),
    quick: values.quick,
    check: values.check,
    compare,
    endpoints: endpoints && endpoints.length > 0 ? endpoints : undefined,
    outputDir: values.out
  }
}
