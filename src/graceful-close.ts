import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'

/** How long a shutdown may take before the process gives up and exits non-zero. */
export const GRACE_MS = 10_000

type Close = closeWithGrace.CloseWithGraceAsyncCallback
type Signal = closeWithGrace.Signals
type Logger = closeWithGrace.Logger

/**
 * Signals a terminal (Ctrl-C, Ctrl-\, hang-up) or a supervisor (systemd's default KillMode, a
 * `kill` of the process group) delivers to every process of the group: a cluster worker gets them
 * from there and again forwarded by its primary.
 */
const GROUP_SIGNALS: Signal[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']

/**
 * Runs `close` on the first shutdown signal or uncaught error, and exits once it is done (0), or
 * after GRACE_MS (1): close-with-grace, as a single process has always used it. What close-with-grace
 * logs itself (a failed `close`, a second error) goes to `logger`, so that an error is logged as the
 * app logs it rather than dumped whole by console.error.
 *
 * A cluster worker differs in one way. close-with-grace takes a second signal as "exit now", and a
 * worker routinely gets the same signal twice (see GROUP_SIGNALS): a Ctrl-C would cut every
 * worker's drain short. So in a worker the first of those signals starts closing and the rest are
 * ignored. The primary owns the impatience (a second signal there kills the workers) and the
 * GRACE_MS deadline; a worker's own comes a second later, a backstop that never races it.
 */
export function closeOnSignal (close: Close, logger: Logger): void {
  if (!cluster.isWorker) {
    closeWithGrace({ delay: GRACE_MS, logger }, close)
    return
  }

  let closing = false
  let received: Signal | undefined
  const closer = closeWithGrace({ delay: GRACE_MS + 1_000, skip: GROUP_SIGNALS, logger }, async ({ err }) => {
    closing = true
    await close(err ? { err } : { signal: received })
  })
  for (const signal of GROUP_SIGNALS) {
    process.on(signal, () => {
      if (closing) return
      received = signal
      closer.close()
    })
  }
}
