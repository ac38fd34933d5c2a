import type { Spread } from './stats.ts'

/** Three significant figures or so: enough to read a ratio, not so many that noise looks like signal. */
export function formatNumber (value: number): string {
  if (!Number.isFinite(value)) return '–'
  if (Math.abs(value) >= 100) return value.toFixed(0)
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

/** `median [min–max]` of a paired ratio, or a dash. */
export function ratio (value: Spread | undefined, suffix: string): string {
  if (!value || Number.isNaN(value.median)) return '–'
  return `${formatNumber(value.median)}${suffix} [${formatNumber(value.min)}–${formatNumber(value.max)}]`
}
