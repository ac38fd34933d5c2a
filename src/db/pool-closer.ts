import type pg from 'pg'

/** How long an ended pool's connections may take to close before their sockets are destroyed. */
export const CLOSE_TIMEOUT_MS = 2_000

export interface PoolCloser {
  /** Follows `pool`'s connections from now on: call it before the pool's first connect. */
  follow: (pool: pg.Pool) => void
  /**
   * Ends the pool, unless it has ended already (@fastify/postgres ends its pool in an onClose hook of its own),
   * and resolves once every connection it opened has closed. A connection still open after `withinMs` (its
   * server stopped answering) has its socket destroyed instead; resolves to how many were. Called again, it
   * returns the first call's promise.
   */
  close: (withinMs?: number) => Promise<number>
}

/**
 * Ends a pool for good, its sockets closed. pool.end() resolves once it has asked each connection to close, not
 * once they have closed (@see https://github.com/brianc/node-postgres/issues/2328). What usually comes next, the
 * embedded PostgreSQL's stop or a test's DROP DATABASE … WITH (FORCE), terminates the sessions still open under
 * their clients, which take it as an error ("terminating connection due to administrator command"). So the
 * closer follows the pool's connections from the first, and waits for each to close.
 */
export function poolCloser (pool?: pg.Pool): PoolCloser {
  let followed: pg.Pool | undefined
  const open = new Set<pg.PoolClient>()
  let lastClosed = (): void => {}

  const follow = (target: pg.Pool): void => {
    followed = target
    target.on('connect', (client) => {
      open.add(client)
      // A client's 'end' comes once its socket has closed, whoever closed it.
      client.once('end', () => {
        open.delete(client)
        if (open.size === 0) lastClosed()
      })
    })
  }

  const closeOnce = async (withinMs: number): Promise<number> => {
    if (followed === undefined) return 0
    // Once ended, the pool opens no connection: `open` only shrinks.
    if (!followed.ending) await followed.end()
    if (open.size === 0) return 0
    const allClosed = new Promise<void>((resolve) => { lastClosed = resolve })
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<true>((resolve) => { timer = setTimeout(() => resolve(true), withinMs) })
    const timedOut = await Promise.race([allClosed, late])
    clearTimeout(timer)
    if (timedOut !== true) return 0
    const cut = open.size
    for (const client of open) client.connection.stream.destroy()
    await allClosed
    return cut
  }
  let closing: Promise<number> | undefined
  const close = (withinMs = CLOSE_TIMEOUT_MS): Promise<number> => (closing ??= closeOnce(withinMs))

  if (pool) follow(pool)
  return { follow, close }
}
