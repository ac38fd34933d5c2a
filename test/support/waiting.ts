import { setTimeout as sleep } from 'node:timers/promises'

/** Polls `read` every `everyMs` until it returns true; the time it took, or fails the test after `limitMs`. */
export async function until (read: () => Promise<boolean>, limitMs = 2_000, everyMs = 1): Promise<number> {
  const started = performance.now()
  while (!await read()) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`)
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
