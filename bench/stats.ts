/** Median of a non-empty list (the lower middle for an even count: a value that was measured). */
export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

export interface Spread { median: number, min: number, max: number }

export function spread (values: readonly number[]): Spread {
  const finite = values.filter(Number.isFinite)
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN }
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite) }
}

/**
 * A ratio measured side by side: numerator and denominator paired round by round (each pair ran
 * minutes apart at most, on the same machine state), then summarised. Pairing is what makes a
 * ratio hold on a noisy machine where absolute figures do not.
 */
export function pairedRatio (numerators: readonly number[], denominators: readonly number[]): Spread {
  const ratios: number[] = []
  for (let round = 0; round < Math.min(numerators.length, denominators.length); round++) {
    const denominator = denominators[round]!
    if (denominator > 0) ratios.push(numerators[round]! / denominator)
  }
  return spread(ratios)
}

/** p50 and p99 (and the max) of latencies in ms, rounded to 0.01 ms; zeros for no values. */
export function percentiles (values: readonly number[]): { p50: number, p99: number, max: number } {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0 }
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => round2(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!)
  return { p50: at(0.5), p99: at(0.99), max: round2(sorted.at(-1)!) }
}

function round2 (value: number): number {
  return Math.round(value * 100) / 100
}
