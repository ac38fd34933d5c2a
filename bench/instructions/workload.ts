// What the instruction count measures, as data: the modes, the endpoints, and how many requests
// of each kind, warm and counted. The counts depend on nothing but this and the code, so a change
// here moves every figure: compare runs of the same workload only.
import { MODE, MODES, type Mode } from '../scenarios.ts'

/** The modes counted: the cache off (the uncached baseline), and each cache mode with one process. */
export const COUNTED_MODES: readonly Mode[] = [MODE.offJoin, MODE.memory, MODE.redis, MODE.tiered]
  .map((name) => MODES.find((mode) => mode.name === name)!)

/**
 * Settings that take wall-clock time out of the counts. Under callgrind a process runs tens of
 * times slower: a 50 ms Redis timeout would fire and bypass the cache, and a tiered L1 copy would
 * expire in the middle of a window; counted requests are then no longer hits.
 */
export const COUNTED_ENV: Readonly<Record<string, string>> = {
  REDIS_COMMAND_TIMEOUT_MS: '10000',
  CACHE_L1_TTL: '86400',
  CACHE_TTL: '86400',
  DATABASE_CONNECT_TIMEOUT_MS: '60000',
  DATABASE_STATEMENT_TIMEOUT_MS: '60000',
  REQUEST_TIMEOUT_MS: '120000',
  // Its listener queries PostgreSQL every few seconds of wall-clock time, into whatever window is
  // being counted. Off, a view's key lacks the epoch's few bytes; the read path is the same.
  CACHE_DB_INVALIDATION: 'false'
}

export interface CountedEndpoint {
  name: string
  /** The one path every hit asks for (filled during the warm-up). */
  hitPath: string
  /** The n-th path that is a miss: never asked for before, the same work as any other. */
  missPath: (n: number) => string
  /** The ceiling's route that sends the hit path's bytes. */
  ceilingRoute: string
}

/** Miss paths are new pages or ids; DATASET has whole pages for all of them. */
export const COUNTED_ENDPOINTS: readonly CountedEndpoint[] = [
  {
    name: 'events-list',
    hitPath: '/events?limit=100',
    missPath: (n) => `/events?limit=100&offset=${n}`,
    ceilingRoute: '/events'
  },
  {
    name: 'guests-list',
    hitPath: '/guests?limit=100',
    missPath: (n) => `/guests?limit=100&offset=${n}`,
    ceilingRoute: '/guests'
  },
  {
    name: 'event-detail',
    hitPath: '/events/1',
    missPath: (n) => `/events/${n + 1}`,
    ceilingRoute: '/events/:id'
  }
]

/** How one kind of request is counted: `warm` uninstrumented, then `windows` windows of `window` requests. */
export interface Sizes {
  warm: number
  window: number
  windows: number
}

/**
 * A kind's figure is its cheapest window's instructions per request. A window that a major garbage
 * collection or a recompilation happens to fall in costs more, and that lands wherever allocation
 * takes it, not where the code changed. Misses and uncached requests cost thirty times a hit, so
 * fewer of them fill a window as long.
 */
export const HITS: Sizes = { warm: 2000, window: 300, windows: 5 }
/** Hits sent BURST at a time, each burst on BURST connections: the event loop takes them together, as under load. */
export const LOADED_HITS: Sizes = { warm: 300, window: 300, windows: 5 }
export const BURST = 50
export const MISSES: Sizes = { warm: 60, window: 20, windows: 1 }
export const UNCACHED: Sizes = { warm: 200, window: 20, windows: 1 }
/** Uncounted hits once instrumented, before the first window: how long valgrind's translating takes to settle. */
export const SETTLE_MS = 20_000

/** A dataset with a whole page at every miss path's offset: MISSES.warm + (MISSES.windows + 1) × MISSES.window. */
export const DATASET = { events: 1000, guestsPerEvent: 10 }

/** Processes counted at once (each is one busy core under valgrind). */
export const PROCESSES_AT_ONCE = 2
