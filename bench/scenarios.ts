/** The endpoints every mode is measured on. Ids are drawn at random from the seeded range. */
export interface Endpoint {
  name: string
  describe: string
  path: (dataset: { events: number, guestsPerEvent: number }) => () => string
}

const randomId = (max: number) => () => 1 + Math.floor(Math.random() * max)

export const ENDPOINTS: Endpoint[] = [
  { name: 'events-list', describe: 'GET /events?limit=100 (a page of 100 events)', path: () => () => '/events?limit=100' },
  {
    name: 'event-detail',
    describe: 'GET /events/:id over random ids',
    path: ({ events }) => {
      const id = randomId(events)
      return () => `/events/${id()}`
    }
  },
  { name: 'guests-list', describe: 'GET /guests?limit=100 (guests with their events nested)', path: () => () => '/guests?limit=100' },
  {
    name: 'guest-detail',
    describe: 'GET /guests/:id over random ids',
    path: ({ events, guestsPerEvent }) => {
      const id = randomId(events * guestsPerEvent)
      return () => `/guests/${id()}`
    }
  }
]

/** The servers measured: every cache mode, and the article's N+1 next to the join. */
export interface Mode {
  name: string
  env: Record<string, string>
  needsRedis?: boolean
  /** App processes behind the load (default 1); with more, the load is spread evenly over them. */
  instances?: number
  /** For a multi-instance row: the one-instance mode it scales out (its `scaling` ratio's base). */
  scales?: string
}

export const MODES: Mode[] = [
  { name: 'off+naive', env: { CACHE_MODE: 'off', QUERY_MODE: 'naive' } },
  { name: 'off+join', env: { CACHE_MODE: 'off', QUERY_MODE: 'join' } },
  { name: 'memory', env: { CACHE_MODE: 'memory', QUERY_MODE: 'join' } },
  { name: 'redis', env: { CACHE_MODE: 'redis', QUERY_MODE: 'join' }, needsRedis: true },
  { name: 'tiered', env: { CACHE_MODE: 'tiered', QUERY_MODE: 'join' }, needsRedis: true },
  { name: 'tiered×2', env: { CACHE_MODE: 'tiered', QUERY_MODE: 'join' }, needsRedis: true, instances: 2, scales: 'tiered' }
]

/** The baseline every speed-up is measured against. */
export const BASELINE_MODE = 'off+join'
/** Serves the events list's bytes from a constant: the most any mode could do. */
export const CEILING = 'ceiling'
export const CEILING_ENDPOINT = 'events-list'
