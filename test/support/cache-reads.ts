import type { TestApp } from './app.ts'
import { until } from './waiting.ts'

/** Reads `url` every 100 ms until it is a HIT: how long that took, or Infinity after `withinMs`. */
export async function waitForHit (app: TestApp, url: string, withinMs: number): Promise<number> {
  const isHit = async () => (await app.inject(url)).headers['x-cache'] === 'HIT'
  return until(`${url} a HIT`, isHit, { withinMs, everyMs: 100 }).catch(() => Infinity)
}

/**
 * Reads checked against the state they must show: every outcome counted (`200 HIT`, `200 BYPASS`,
 * …), and each read whose `name` was not the one expected kept
 * (`200 HIT: old (/events/1, expected new)`).
 */
export function readLog () {
  const outcomes = new Map<string, number>()
  const wrong: string[] = []
  return {
    wrong,
    summary: () => [...outcomes].map(([outcome, n]) => `${outcome} × ${n}`).join(', '),
    /** The distinct outcomes seen, in the order first seen. */
    outcomes: () => [...outcomes.keys()],
    allOk: () => [...outcomes.keys()].every((outcome) => outcome.startsWith('200 ')),
    read: async (app: TestApp, url: string, expected: string) => {
      const response = await app.inject(url)
      const outcome = `${response.statusCode} ${String(response.headers['x-cache'])}`
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      const name = response.statusCode === 200 ? response.json().name : expected
      if (name !== expected) wrong.push(`${outcome}: ${name} (${url}, expected ${expected})`)
      return response
    }
  }
}

/** X-Cache, with a HIT told apart by tier: L1 (in-process, tiered mode) or L2 (Redis). */
export function tierOf (response: { headers: Record<string, unknown> }): string {
  if (response.headers['x-cache'] !== 'HIT') return String(response.headers['x-cache'])
  return String(response.headers['server-timing']).includes('desc=l1') ? 'L1' : 'L2'
}
