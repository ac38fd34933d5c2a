import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Bounded waits. Each names what it waits for, so a test that gives up says what did not happen
 * ("b shows v1: not within 2000 ms"), not only that something took too long.
 */

export interface UntilOptions {
  /** Give up after this long (default 2 s). */
  withinMs?: number
  /** Ask again after this long (default 1 ms). */
  everyMs?: number
}

/**
 * Polls `check` until it returns true: the time that took. After `withinMs` it fails the test
 * with `what`, the state it waited for.
 */
export async function until (what: string, check: () => Promise<boolean>, options: UntilOptions = {}): Promise<number> {
  const { withinMs = 2_000, everyMs = 1 } = options
  const started = performance.now()
  while (!await check()) {
    if (performance.now() - started > withinMs) throw new Error(`${what}: not within ${withinMs} ms`)
    await sleep(everyMs)
  }
  return performance.now() - started
}

/** `promise`, or a rejection naming `what` after `ms`. */
export async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
