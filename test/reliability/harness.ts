import type { Test } from 'tap'
import { buildTestApp, type TestApp } from '../helper.ts'

/** Seconds the long runs last: RELIABILITY_SECONDS overrides (CI uses the defaults). */
export function seconds (fallback: number): number {
  const value = Number(process.env.RELIABILITY_SECONDS)
  return Number.isFinite(value) && value > 0 ? value : fallback
}

/** The app on a real socket (127.0.0.1, a free port), closed when the test ends. */
export async function listening (t: Test, env: Record<string, string>): Promise<{ app: TestApp, base: string }> {
  const app = await buildTestApp(t, { RATE_LIMIT_WRITES: '1000000', ...env })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, base }
}

/** `clients` loops running `step` back to back until `durationMs` has passed. */
export async function runClients (clients: number, durationMs: number, step: (client: number) => Promise<void>): Promise<void> {
  const deadline = Date.now() + durationMs
  await Promise.all(Array.from({ length: clients }, async (_, client) => {
    while (Date.now() < deadline) await step(client)
  }))
}

export interface Timed { at: number, ms: number, status: number, cache: string | null, retryAfter?: string | null, error?: string }

/**
 * One request, timed, never throwing: a network error or `timeoutMs` passing is recorded as
 * status 0 with its reason.
 */
export async function timedFetch (url: string, init?: RequestInit, timeoutMs = 10_000): Promise<Timed & { body: string }> {
  const started = performance.now()
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
    const body = await response.text()
    return { at: started, ms: performance.now() - started, status: response.status, cache: response.headers.get('x-cache'), retryAfter: response.headers.get('retry-after'), body }
  } catch (error) {
    return { at: started, ms: performance.now() - started, status: 0, cache: null, body: '', error: (error as Error).cause ? String(((error as Error).cause as Error).message) : (error as Error).message }
  }
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
