// Load for the long-running tests: client loops, timed requests, and figures of what came back.
import { setTimeout as sleep } from 'node:timers/promises'

/** Seconds the long runs last: RELIABILITY_SECONDS overrides (CI uses the defaults). */
export function seconds (fallback: number): number {
  const value = Number(process.env.RELIABILITY_SECONDS)
  return Number.isFinite(value) && value > 0 ? value : fallback
}

/** `clients` loops running `step` back to back until `durationMs` has passed. */
export async function runClients (
  clients: number,
  durationMs: number,
  step: (client: number) => Promise<void>
): Promise<void> {
  const deadline = Date.now() + durationMs
  await Promise.all(Array.from({ length: clients }, async (_, client) => {
    while (Date.now() < deadline) await step(client)
  }))
}

export interface Timed {
  at: number
  ms: number
  status: number
  cache: string | null
  retryAfter?: string | null
  error?: string
}

/**
 * One request, timed, never throwing: a network error or `timeoutMs` passing is recorded as
 * status 0 with its reason.
 */
export async function timedFetch (
  url: string,
  init?: RequestInit,
  timeoutMs = 10_000
): Promise<Timed & { body: string }> {
  const started = performance.now()
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
    const body = await response.text()
    return {
      at: started,
      ms: performance.now() - started,
      status: response.status,
      cache: response.headers.get('x-cache'),
      retryAfter: response.headers.get('retry-after'),
      body
    }
  } catch (error) {
    const cause = (error as Error).cause as Error | undefined
    const reason = cause ? String(cause.message) : (error as Error).message
    return { at: started, ms: performance.now() - started, status: 0, cache: null, body: '', error: reason }
  }
}

/** Fetch options that POST `body` as JSON. */
export function jsonPost (body: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
}

/** POST `body` as JSON: the JSON answered, or a throw naming the status when it is not a 201. */
export async function postJson<T> (url: string, body: unknown): Promise<T> {
  const response = await fetch(url, jsonPost(body))
  if (response.status !== 201) throw new Error(`POST ${url} answered ${response.status}: ${await response.text()}`)
  return await response.json() as T
}

/** A request of a load that writes and reads; `id`: the event a write created (its 201 acknowledged it). */
export interface LoadSample extends Timed {
  write: boolean
  id?: number
}

/**
 * `clients` loops of requests until `stopped` aborts: 30% POST `write()` to `writeUrl`, the rest GET
 * `readUrl`. A refused connection (the server gone or going) waits 20 ms before the next.
 * @returns the samples, filled as they come, and the loops' end
 */
export function writeAndReadUntil (stopped: AbortSignal, options: {
  writeUrl: string
  write: () => unknown
  readUrl: string
  clients?: number
}): { samples: LoadSample[], done: Promise<void> } {
  const samples: LoadSample[] = []
  const loops = Array.from({ length: options.clients ?? 16 }, async () => {
    while (!stopped.aborted) {
      const write = Math.random() < 0.3
      const sample = write
        ? await timedFetch(options.writeUrl, jsonPost(options.write()))
        : await timedFetch(options.readUrl)
      const id = write && sample.status === 201 ? (JSON.parse(sample.body) as { id: number }).id : undefined
      samples.push({ ...sample, write, ...(id !== undefined && { id }) })
      if (sample.status === 0) await sleep(20)
    }
  })
  return { samples, done: Promise.all(loops).then(() => {}) }
}

/**
 * The samples of a load around a signal at `signalAt`: those sent comfortably before it (done or
 * in flight: they must succeed), and those sent after it.
 */
export function aroundSignal (samples: LoadSample[], signalAt: number): { before: LoadSample[], after: LoadSample[] } {
  return {
    before: samples.filter((sample) => sample.at + sample.ms < signalAt || sample.at < signalAt - 50),
    after: samples.filter((sample) => sample.at >= signalAt)
  }
}

/** "201, 503, 0": the distinct statuses of `samples`. */
export function statuses (samples: ReadonlyArray<Pick<Timed, 'status'>>): string {
  return [...new Set(samples.map((sample) => sample.status))].join(', ')
}

export function percentile (values: number[], q: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/** "200 × 998, 0 × 2 (This operation was aborted)": what a batch of responses came back as. */
export function statusTally (responses: ReadonlyArray<Pick<Timed, 'status' | 'error'>>): string {
  const counts = new Map<number, number>()
  for (const response of responses) counts.set(response.status, (counts.get(response.status) ?? 0) + 1)
  const firstError = responses.find((response) => response.error !== undefined)?.error
  return [...counts].map(([status, n]) => `${status} × ${n}`).join(', ') + (firstError ? ` (${firstError})` : '')
}
