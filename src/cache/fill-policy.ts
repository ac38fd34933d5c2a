import { setTimeout as sleep } from 'node:timers/promises'
import type { Encoding } from './encodings.ts'
import type { Representations } from './representations.ts'
import type { FillResult, GuardedStore } from './resilience/guarded-store.ts'
import type { CachedResponse, EntryLife } from './stores/store.ts'
import { LEASE_POLL_MS, REFRESH_AHEAD_SHARE, TTL_JITTER } from './tuning.ts'
import { leaseKey, type View } from './views.ts'

/** The settings an entry's life is made from. */
export interface LifeSettings {
  ttlSeconds: number
  negativeTtlSeconds: number
  /** CACHE_GRACE: seconds an entry is kept past its TTL, served only when its load fails. */
  graceSeconds?: number | undefined
  /** CACHE_REFRESH_AHEAD: a hit near its entry's expiry loads it again in the background. */
  refreshAhead?: boolean | undefined
}

/**
 * An entry's life: the TTL, jittered so entries filled together do not expire together;
 * refresh-ahead's point, the last REFRESH_AHEAD_SHARE of it; and the grace. A 404 gets the
 * negative TTL and no grace: what does not exist is not worth serving stale.
 */
export function lifeOf (response: CachedResponse, settings: LifeSettings): EntryLife {
  const notFound = response.status === 404
  const ttlSeconds = notFound ? settings.negativeTtlSeconds : settings.ttlSeconds
  const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000 * (1 - Math.random() * TTL_JITTER)))
  const life: EntryLife = { ttlMs }
  if (settings.refreshAhead) life.refreshMs = Math.round(ttlMs * (1 - REFRESH_AHEAD_SHARE))
  if (!notFound && settings.graceSeconds) life.graceMs = settings.graceSeconds * 1000
  return life
}

/**
 * Cross-instance single-flight (CACHE_LEASE_MS): the first instance to miss a key takes a short
 * Redis lease and loads; the others poll for its fill, and load themselves if none lands within
 * the lease (the holder died). A lease is for one view under one stamp: a reader that saw a
 * write's new generations takes a lease of its own, and a waiter that sees them stops waiting (the
 * holder's fill will be refused) and loads. Any Redis trouble means loading now: the lease only
 * ever saves work, it never fails a request.
 * @returns the response another instance filled, or `undefined`: this one loads
 */
export async function waitForLeaseHolder (
  store: GuardedStore,
  view: View,
  stamp: string,
  leaseMs: number | undefined
): Promise<CachedResponse | undefined> {
  if (leaseMs === undefined) return undefined
  try {
    const leased = store.lease(leaseKey(view), stamp, leaseMs)
    if (leased === undefined || await leased) return undefined
    const deadline = performance.now() + leaseMs
    while (performance.now() < deadline) {
      await sleep(LEASE_POLL_MS)
      // Straight to the store: the wait is an optimisation, so its failures end it (below) and
      // are not the breaker's business.
      const lookup = await store.store.lookup(view.key, view.dependsOn)
      if (lookup.state === 'hit') return lookup.response
      if ((lookup.sharedStamp ?? lookup.stamp) !== stamp) break
    }
  } catch {}
  return undefined
}

/**
 * THE FENCE. A miss reads the generations (stamp) before loading, and stores its response only
 * if they are still the same, atomically (a Lua script in Redis; one synchronous step in
 * memory). Without it, this interleaving serves stale data until the TTL:
 *   miss loads the old row → a write commits and bumps the generations → the miss stores
 *   the old row as valid for the new generations.
 * With it, the late store is refused (or lands stamped with generations that are already
 * dead), because the response says which generations it was loaded under. Every coding in
 * `stored` is one entry of the fill, all or none.
 */
export function fencedFill (
  store: GuardedStore,
  view: View,
  stamp: string,
  representations: Representations,
  stored: readonly Encoding[],
  settings: LifeSettings & { fence: boolean }
): Promise<FillResult> {
  const entries = stored.map((encoding) => {
    return { key: view.keys[encoding], response: representations[encoding] }
  })
  return store.fill(view, stamp, entries, lifeOf(representations.identity, settings), settings.fence)
}
