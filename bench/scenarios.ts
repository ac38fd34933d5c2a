/** What the bench measures: the modes (servers), the endpoints, the encodings, and the ceiling. */
import type { Encoding } from './product.ts'

/** Every mode's name, defined once: the command line, result files and thresholds use these. */
export const MODE = {
  offNaive: 'off+naive',
  offJoin: 'off+join',
  memory: 'memory',
  redis: 'redis',
  tiered: 'tiered',
  tieredPair: 'tiered-x2',
  compressingPeer: 'memory+compress'
} as const

export type ModeName = (typeof MODE)[keyof typeof MODE]

/** The servers measured: every cache mode, and the article's N+1 next to the join. */
export interface Mode {
  name: ModeName
  env: Record<string, string>
  needsRedis?: boolean
  /** App processes behind the load (default 1); with more, the load is spread evenly over them. */
  instances?: number
  /** For a multi-instance row: the one-instance mode it scales out (its `scaling` ratio's base). */
  scales?: ModeName
  /** For the peer: the mode that sends stored representations instead (its `cpuOverPrecompressed` base). */
  peerOf?: ModeName
}

export const MODES: readonly Mode[] = [
  { name: MODE.offNaive, env: { CACHE_MODE: 'off', QUERY_MODE: 'naive' } },
  { name: MODE.offJoin, env: { CACHE_MODE: 'off', QUERY_MODE: 'join' } },
  { name: MODE.memory, env: { CACHE_MODE: 'memory', QUERY_MODE: 'join' } },
  { name: MODE.redis, env: { CACHE_MODE: 'redis', QUERY_MODE: 'join' }, needsRedis: true },
  { name: MODE.tiered, env: { CACHE_MODE: 'tiered', QUERY_MODE: 'join' }, needsRedis: true },
  {
    name: MODE.tieredPair,
    env: { CACHE_MODE: 'tiered', QUERY_MODE: 'join' },
    needsRedis: true,
    instances: 2,
    scales: MODE.tiered
  },
  // What a user would pick instead: the same cache, and @fastify/compress compressing every hit.
  {
    name: MODE.compressingPeer,
    env: { CACHE_MODE: 'memory', QUERY_MODE: 'join', CACHE_PRECOMPRESS: 'false' },
    peerOf: MODE.memory
  }
]

export const MODE_NAMES: readonly ModeName[] = MODES.map((mode) => mode.name)

/**
 * The baseline every speed-up is measured against; its events list is also the ceiling's body,
 * so it is measured whatever `--modes` says.
 */
export const BASELINE_MODE = MODE.offJoin
/** Serves the events list's bytes from a constant: the most any mode could do. */
export const CEILING = 'ceiling'
/** The ceiling sending every header a hit sends, from constants: the most a hit with its headers could do. */
export const HEADER_CEILING = 'ceiling+headers'
/** A bare route that reads the bytes from Redis with ioredis's getBuffer: what a user would write. */
export const REDIS_PEER = 'getBuffer'
export const CEILING_ENDPOINT = 'events-list'

/** How the ceiling server answers (its CEILING_KIND): bare bytes, bytes with a hit's headers, bytes read from Redis. */
export type CeilingKind = 'bare' | 'headers' | 'getBuffer'

/** A server rows are compared with: the ceiling server started as one kind. */
export interface Reference {
  name: typeof CEILING | typeof HEADER_CEILING | typeof REDIS_PEER
  kind: CeilingKind
  needsRedis?: boolean
}

export const REFERENCES: readonly Reference[] = [
  { name: CEILING, kind: 'bare' },
  { name: HEADER_CEILING, kind: 'headers' },
  { name: REDIS_PEER, kind: 'getBuffer', needsRedis: true }
]

/** Whether a row is a reference's (no cache, no X-Cache, no speed-up) rather than a mode's. */
export const isReference = (mode: string): boolean => REFERENCES.some((reference) => reference.name === mode)

/** The references a run can start: those that need Redis only with one. */
export const referencesWith = (redis: boolean): Reference[] => {
  return REFERENCES.filter((reference) => redis || !reference.needsRedis)
}

/** Result files written before the names were ASCII: their mode names, and today's. */
const FORMER_MODE_NAMES: Readonly<Record<string, ModeName>> = { 'tiered\u00d72': MODE.tieredPair }

export function currentModeName (name: string): string {
  return FORMER_MODE_NAMES[name] ?? name
}

export interface ModeSelection {
  /** The modes to measure, in the order of MODES. */
  modes: Mode[]
  /** Why each known mode is left out of this run. */
  absent: Map<ModeName, string>
}

/** The modes `--modes` asks for (all by default) and the baseline, less those that need a missing Redis. */
export function selectModes (requested: readonly ModeName[] | undefined, redis: boolean): ModeSelection {
  const modes: Mode[] = []
  const absent = new Map<ModeName, string>()
  for (const mode of MODES) {
    if (requested && mode.name !== BASELINE_MODE && !requested.includes(mode.name)) {
      absent.set(mode.name, `${mode.name} is not among --modes`)
    } else if (mode.needsRedis && !redis) {
      absent.set(mode.name, `${mode.name} needs Redis`)
    } else {
      modes.push(mode)
    }
  }
  return { modes, absent }
}

/** The endpoints every mode is measured on. Ids are drawn at random from the seeded range. */
export interface Endpoint {
  name: string
  describe: string
  path: (dataset: { events: number, guestsPerEvent: number }) => () => string
}

const randomId = (max: number) => () => 1 + Math.floor(Math.random() * max)

export const ENDPOINTS: readonly Endpoint[] = [
  {
    name: 'events-list',
    describe: 'GET /events?limit=100 (a page of 100 events)',
    path: () => () => '/events?limit=100'
  },
  {
    name: 'event-detail',
    describe: 'GET /events/:id over random ids',
    path: ({ events }) => {
      const id = randomId(events)
      return () => `/events/${id()}`
    }
  },
  {
    name: 'guests-list',
    describe: 'GET /guests?limit=100 (guests with their events nested)',
    path: () => () => '/guests?limit=100'
  },
  {
    name: 'guest-detail',
    describe: 'GET /guests/:id over random ids',
    path: ({ events, guestsPerEvent }) => {
      const id = randomId(events * guestsPerEvent)
      return () => `/guests/${id()}`
    }
  }
]

/** The codings a row's requests accept, one `Accept-Encoding` each (identity: no header). */
export const BENCH_ENCODINGS: readonly Encoding[] = ['identity', 'br', 'gzip']
/** What the matrix measures by default: identity, and brotli, which every browser and HTTP library asks for. */
export const DEFAULT_ENCODINGS: readonly Encoding[] = ['identity', 'br']

/** A row's coding; absent in result files from before there were codings: identity. */
export const encodingOf = (row: { encoding?: Encoding }): Encoding => row.encoding ?? 'identity'

/** The request headers of a row in `encoding`. */
export function encodingHeaders (encoding: Encoding): Record<string, string> {
  return encoding === 'identity' ? {} : { 'accept-encoding': encoding }
}

/**
 * The ceiling sends each coding's bytes on a route of its own (`/br/events`): it never negotiates,
 * so that it stays the least a server can do to send those bytes.
 */
export function ceilingPath (encoding: Encoding, path: string): string {
  return encoding === 'identity' ? path : `/${encoding}${path}`
}

/** The read/write mix is selected with `--endpoints` like an endpoint, but runs as a step. */
export const MIX_ENDPOINT = 'mix'
export const ENDPOINT_NAMES: readonly string[] = [...ENDPOINTS.map((endpoint) => endpoint.name), MIX_ENDPOINT]
