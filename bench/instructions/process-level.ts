import type { InstructionCount } from './results.ts'

const rowOf = ({ mode, endpoint, encoding, kind }: InstructionCount) =>
  `${mode} ${endpoint} ${encoding ?? 'identity'} ${kind}`

/**
 * How much more than a hit alone a loaded hit may cost at a process's usual level: a burst costs about
 * the same, a little less or a fraction of a percent more; the upper level is tens of percent more.
 */
const USUAL_LOADED_SHARE = 1.1

/**
 * A count's level goes with its process: some starts count every window of a row at an upper level
 * (bench/README.md, "Instructions per request"). A mode with an endpoint whose loaded hit costs
 * clearly more than its hit alone was counted at the upper level, and is worth counting again on a
 * new process.
 */
export function atUpperLevel (counts: readonly InstructionCount[], mode: string): boolean {
  const ofMode = counts.filter((count) => count.mode === mode)
  return ofMode.some((loaded) => loaded.kind === 'loaded' && ofMode.some((hit) => hit.kind === 'hit' &&
    hit.endpoint === loaded.endpoint && hit.encoding === loaded.encoding &&
    loaded.perRequest > hit.perRequest * USUAL_LOADED_SHARE))
}

/** How far a steady row's mean window may sit over its cheapest: a collection in one window of five. */
const STEADY_MEAN_SHARE = 1.1

/**
 * Whether some row of `mode` has windows far apart: its mean window clearly over its cheapest. A
 * reference (a ceiling) counted while the machine is busy can cost several times its count alone in
 * most windows (bench/README.md, "References alone"), and is worth counting again on a new process.
 */
export function unsteady (counts: readonly InstructionCount[], mode: string): boolean {
  return counts.some((count) => count.mode === mode && count.meanPerRequest !== undefined &&
    count.meanPerRequest > count.perRequest * STEADY_MEAN_SHARE)
}

/** Per row, the cheaper of two processes' counts (the lower level), with every window either counted. */
export function cheaperPerRow (
  first: readonly InstructionCount[],
  second: readonly InstructionCount[]
): InstructionCount[] {
  const again = new Map(second.map((count) => [rowOf(count), count]))
  return first.map((count) => {
    const other = again.get(rowOf(count))
    if (other === undefined || other.perRequest >= count.perRequest) return count
    return { ...other, windows: [...other.windows, ...count.windows] }
  })
}
