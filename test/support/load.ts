/** Load for the long-running tests: client loops, timed requests, and figures of what came back. */

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

/** POST `body` as JSON: the JSON answered, or a throw naming the status when it is not a 201. */
export async function postJson<T> (url: string, body: unknown): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  if (response.status !== 201) throw new Error(`POST ${url} answered ${response.status}: ${await response.text()}`)
  return await response.json() as T
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
