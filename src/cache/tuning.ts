/**
 * The cache's tuning, in one place. None of it is configuration: these are the values the cache
 * is designed and tested around (the settings users touch are in ConfigSchema, src/config.ts).
 */

/** A shard's circuit breaker: failures in a row that open it, and its probe's back-off. */
export const BREAKER = { threshold: 3, cooldownMs: 500, maxCooldownMs: 5_000 } as const

/**
 * Owed invalidations: replayed this long after they are owed, the delay doubling after each
 * replay that fails, up to the max; closing spends at most `finalMs` on a last replay.
 */
export const OWED_REPLAY = { delayMs: 500, maxDelayMs: 5_000, finalMs: 1_000 } as const

/** How often an instance waiting on another's lease looks for the entry it is filling. */
export const LEASE_POLL_MS = 10

/** Entries expire up to this share of their TTL early, never later: those filled together spread out. */
export const TTL_JITTER = 0.1

/** Tiered mode: how long the boot waits for the invalidation bus's subscription (L1 is off until then). */
export const BUS_START_WAIT_MS = 1_000

/** Tiered mode: a refused SUBSCRIBE is tried again after this long, doubling up to the max. */
export const SUBSCRIBE_RETRY = { delayMs: 100, maxDelayMs: 5_000 } as const

/**
 * Compressed representations are made once per fill, off the event loop, and sent on every hit:
 * the levels trade a miss's latency for every hit's bytes. Each is the lowest level at which the
 * API's list pages stop getting smaller; the levels above save a few percent more for many times
 * the time. Measured with bench/compression-levels.ts (bench/README.md says how to run it).
 */
export const BROTLI_QUALITY = 5
export const GZIP_LEVEL = 6
/**
 * Bodies shorter than this are kept only as they are: with its headers such a response fits in
 * one TCP segment either way, so compressing it saves no packet.
 */
export const MIN_COMPRESSED_BYTES = 1_024

/**
 * The database-change listener (CACHE_DB_INVALIDATION): a lost connection is tried again after
 * `retryMs`, doubling up to the max; a query every `heartbeatMs` notices one that died silently.
 */
export const DATABASE_CHANGES = { retryMs: 100, maxRetryMs: 5_000, heartbeatMs: 5_000 } as const

/**
 * Refresh-ahead (CACHE_REFRESH_AHEAD): a hit in the last this share of its entry's TTL loads it again
 * in the background. Wide enough that a key read a few times per TTL gets its refresh in time; narrow
 * enough that keys read rarely are not loaded more often than the TTL says.
 */
export const REFRESH_AHEAD_SHARE = 0.1

/**
 * Owed invalidations told to the other instances (owed-announcement.ts): a write waits at most
 * `waitMs` for every listener to say it heard. A message's generations stay well under
 * PostgreSQL's 8,000-byte payload limit.
 */
export const OWED_ANNOUNCEMENT = { waitMs: 2_000, maxPayloadBytes: 7_000 } as const
