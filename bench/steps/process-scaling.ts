import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { formatNumber } from '../format.ts'
import { serversCpuMicros, type ServerProcess } from '../harness/processes.ts'
import { median, pairedRatio, spread, type Spread } from '../stats.ts'

const execFileAsync = promisify(execFile)

/**
 * Does a second process serve twice as much? autocannon cannot tell on a small machine: it costs
 * about as much CPU per request as the cached server it measures, or more (each round's progress
 * line prints both), so with one core for each it saturates first and two servers look no faster
 * than one. wrk, in C, costs a fraction of that and leaves the cores to the servers. So this one
 * measurement uses wrk (Debian's `wrk`), when it is on the PATH.
 */
export interface ProcessScalingResult {
  generator: 'wrk'
  connections: number
  path: string
  /** Requests per second of one process and of the pair, per round, and their paired ratio. */
  one: Spread
  two: Spread
  ratio: Spread
  /** Server CPU per request (all the pair's processes together), median of the rounds. */
  cpuMicrosPerRequest: { one: number, two: number }
  /**
   * Share of the whole machine's CPU time that was busy (servers, wrk, kernel, neighbours) while
   * one process, and while the pair, served, median of the rounds: near 1 for the pair means the
   * cores, not the servers, set its ratio.
   */
  machineBusy: { one: number, two: number }
  /**
   * Throughput per busy share of the machine, the pair's over one process's, paired per round:
   * about 1 when a second process adds throughput in proportion to the CPU it gets (nothing
   * shared slows them down), so the ratio above is then what the cores allow.
   */
  perBusyCpu: Spread
  errors: number
}

interface WrkRun {
  requests: number
  errors: number
  cpuMicros: number
  machineBusy: number
}

export async function wrkAvailable (): Promise<boolean> {
  // `wrk --version` exits 1 after printing it: any exit code means wrk ran; ENOENT (a string), that it is absent.
  const ran = (error: { code?: unknown }) => typeof error.code === 'number'
  return execFileAsync('wrk', ['--version']).then(() => true, ran)
}

export interface WrkOptions {
  durationSeconds: number
  connections: number
  path: string
}

/**
 * One process against the pair (the same build and cache mode, already warm), back to back in each
 * round and in alternating order, so each ratio compares two runs seconds apart.
 */
export async function measureProcessScaling (
  one: ServerProcess,
  pair: readonly ServerProcess[],
  options: WrkOptions & { rounds: number }
): Promise<ProcessScalingResult> {
  const runs = { one: [] as WrkRun[], two: [] as WrkRun[] }
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? ['one', 'two'] as const : ['two', 'one'] as const
    for (const which of order) runs[which].push(await runWrk(which === 'one' ? [one] : pair, options))
  }
  const rps = (list: WrkRun[]) => list.map((run) => run.requests / options.durationSeconds)
  const cpu = (list: WrkRun[]) => median(list.map((run) => run.cpuMicros / Math.max(1, run.requests)))
  const busy = (list: WrkRun[]) => median(list.map((run) => run.machineBusy))
  const perBusy = (list: WrkRun[]) => list.map((run) => run.requests / Math.max(1e-9, run.machineBusy))
  return {
    generator: 'wrk',
    connections: options.connections,
    path: options.path,
    one: spread(rps(runs.one)),
    two: spread(rps(runs.two)),
    ratio: pairedRatio(rps(runs.two), rps(runs.one)),
    cpuMicrosPerRequest: { one: cpu(runs.one), two: cpu(runs.two) },
    machineBusy: { one: busy(runs.one), two: busy(runs.two) },
    perBusyCpu: pairedRatio(perBusy(runs.two), perBusy(runs.one)),
    errors: [...runs.one, ...runs.two].reduce((sum, run) => sum + run.errors, 0)
  }
}

/** One wrk process (one thread) per server, the connections split evenly, as a load balancer would. */
async function runWrk (servers: readonly ServerProcess[], options: WrkOptions): Promise<WrkRun> {
  const before = await serversCpuMicros(servers)
  const machineBefore = await machineTimes()
  const outputs = await Promise.all(servers.map(async (server) => {
    const connections = Math.ceil(options.connections / servers.length)
    const args = ['-t1', `-c${connections}`, `-d${options.durationSeconds}s`, `${server.url}${options.path}`]
    return (await execFileAsync('wrk', args)).stdout
  }))
  const machineAfter = await machineTimes()
  const cpuMicros = await serversCpuMicros(servers) - before
  let requests = 0
  let errors = 0
  for (const output of outputs) {
    const total = /(\d+) requests in/.exec(output)
    if (!total) throw new Error(`wrk printed no request count:\n${output}`)
    requests += Number(total[1])
    errors += Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0)
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output)
    if (socket) errors += socket.slice(1).reduce((sum, count) => sum + Number(count), 0)
  }
  const total = machineAfter.total - machineBefore.total
  const machineBusy = total > 0 ? 1 - (machineAfter.idle - machineBefore.idle) / total : 0
  return { requests, errors, cpuMicros, machineBusy }
}

/** All CPUs' time since boot from /proc/stat's first line (in ticks): in all, and idle or waiting on I/O. */
async function machineTimes (): Promise<{ total: number, idle: number }> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  return { total: fields.reduce((sum, ticks) => sum + ticks, 0), idle: fields[3]! + fields[4]! }
}

/** The process-scaling measurement in one sentence: the report's line and the bench's `[scaling]` output. */
export function processScalingLine (scaling: ProcessScalingResult): string {
  const { one, two, ratio: pair, cpuMicrosPerRequest: cpu, machineBusy: busy } = scaling
  return `Two processes against one (tiered, \`GET ${scaling.path}\`, load from ${scaling.generator} ` +
    `with ${scaling.connections} connections split over the processes): ` +
    `one ${formatNumber(one.median)} req/s, two ${formatNumber(two.median)} req/s, ` +
    `${formatNumber(pair.median)}× [${formatNumber(pair.min)}–${formatNumber(pair.max)}] ` +
    `(server CPU per request ${formatNumber(cpu.one)} µs → ${formatNumber(cpu.two)} µs; ` +
    `machine CPU busy ${(busy.one * 100).toFixed(0)}% → ${(busy.two * 100).toFixed(0)}%, ` +
    `throughput per busy CPU ${formatNumber(scaling.perBusyCpu.median)}× one process's; ${scaling.errors} errors).`
}
