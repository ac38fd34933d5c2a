import t from 'tap'
import { CACHE_MODES, ConfigError, loadConfig } from '../src/config.ts'

const REDIS_URL = 'redis://127.0.0.1:6379'

t.test('defaults serve a fresh machine: embedded PostgreSQL, memory cache, the article\'s TTL', async (t) => {
  const config = loadConfig({})
  t.equal(config.DATABASE_URL, undefined)
  t.equal(config.CACHE_MODE, 'memory')
  t.equal(config.CACHE_TTL, 900)
  t.equal(config.CACHE_INVALIDATE, true)
  t.equal(config.QUERY_MODE, 'join')
  t.equal(config.PORT, 3000)
  t.equal(config.PUBLIC_URL, 'http://localhost:3000')
  t.equal(config.DOCS, true)
})

t.test('CACHE_MODE defaults to redis when REDIS_URL is set', async (t) => {
  t.equal(loadConfig({ REDIS_URL }).CACHE_MODE, 'redis')
  t.equal(loadConfig({ REDIS_URL, CACHE_MODE: 'off' }).CACHE_MODE, 'off')
})

t.test('REDIS_CLUSTER_NODES: a Redis Cluster instead of one Redis, never both', async (t) => {
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001' }).CACHE_MODE, 'redis',
    'redis mode by default, as with REDIS_URL')
  t.equal(loadConfig({ CACHE_MODE: 'redis', REDIS_CLUSTER_NODES: 'redis-a:7000' }).CACHE_MODE, 'redis',
    'CACHE_MODE=redis is satisfied')
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', CACHE_MODE: 'memory' }).CACHE_MODE, 'memory')
  t.throws(() => loadConfig({ REDIS_URL, REDIS_CLUSTER_NODES: '127.0.0.1:7000' }), {
    name: 'ConfigError',
    message: /REDIS_URL and REDIS_CLUSTER_NODES: set one of them, not both/
  })
  for (const [value, message] of [
    ['redis://127.0.0.1:7000', /REDIS_CLUSTER_NODES="redis:\/\/127.0.0.1:7000"/],
    ['127.0.0.1', /REDIS_CLUSTER_NODES="127.0.0.1"/],
    ['127.0.0.1:7000, 127.0.0.1:7001', /REDIS_CLUSTER_NODES=/],
    [
      '127.0.0.1:7000,127.0.0.1:99999',
      /REDIS_CLUSTER_NODES="127.0.0.1:7000,127.0.0.1:99999": the port of 127.0.0.1:99999 is out of range/
    ]
  ] as const) {
    t.throws(() => loadConfig({ REDIS_CLUSTER_NODES: value }), { name: 'ConfigError', message }, value)
  }
})

t.test('usesRedis: true exactly for the modes that keep responses in Redis', async (t) => {
  t.equal(loadConfig({}).usesRedis, false, 'memory by default')
  t.equal(loadConfig({ REDIS_URL }).usesRedis, true, 'redis by default with REDIS_URL')
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' }).usesRedis, true,
    'redis by default with REDIS_CLUSTER_NODES')
  t.equal(loadConfig({ REDIS_URL, CACHE_MODE: 'tiered' }).usesRedis, true)
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', CACHE_MODE: 'tiered' }).usesRedis, true)
  t.equal(loadConfig({ REDIS_URL, CACHE_MODE: 'off' }).usesRedis, false, 'a Redis URL alone does not make a client')
  t.equal(loadConfig({ REDIS_URL, CACHE_MODE: 'memory' }).usesRedis, false)
  t.equal(loadConfig({ CACHE_MODE: 'off' }).usesRedis, false)
  const answers = CACHE_MODES.map((mode) => [mode, loadConfig({ REDIS_URL, CACHE_MODE: mode }).usesRedis])
  t.same(Object.fromEntries(answers), { off: false, memory: false, redis: true, tiered: true }, 'every mode answers')
})

t.test('CACHE_MODES is every mode CACHE_MODE accepts, and only those', async (t) => {
  t.same(CACHE_MODES, ['off', 'memory', 'redis', 'tiered'])
  for (const mode of CACHE_MODES) t.equal(loadConfig({ REDIS_URL, CACHE_MODE: mode }).CACHE_MODE, mode)
  t.throws(() => loadConfig({ CACHE_MODE: 'disk' }), { name: 'ConfigError', message: /CACHE_MODE="disk"/ })
})

t.test('strings are converted to the schema\'s types', async (t) => {
  const config = loadConfig({
    PORT: '8080', CACHE_TTL: '60', CACHE_INVALIDATE: 'false', QUERY_MODE: 'naive', HOST: '0.0.0.0'
  })
  t.equal(config.PORT, 8080)
  t.equal(config.CACHE_TTL, 60)
  t.equal(config.CACHE_INVALIDATE, false)
  t.equal(config.QUERY_MODE, 'naive')
  t.equal(config.PUBLIC_URL, 'http://localhost:8080', 'a wildcard bind address is not a public name')
})

t.test('empty values count as unset, so a copied .env.example works', async (t) => {
  const config = loadConfig({ DATABASE_URL: '', REDIS_URL: '', PORT: '' })
  t.equal(config.DATABASE_URL, undefined)
  t.equal(config.CACHE_MODE, 'memory')
  t.equal(config.PORT, 3000)
})

t.test('documentation is off in production unless asked for', async (t) => {
  t.equal(loadConfig({ NODE_ENV: 'production' }).DOCS, false)
  t.equal(loadConfig({ NODE_ENV: 'production', DOCS: 'true' }).DOCS, true)
})

t.test('WORKERS: 1 by default, a number or auto; more than one is refused with the per-process memory cache',
  async (t) => {
    t.equal(loadConfig({}).WORKERS, 1)
    t.equal(loadConfig({ WORKERS: '4', CACHE_MODE: 'off' }).WORKERS, 4)
    t.equal(loadConfig({ WORKERS: 'auto', CACHE_MODE: 'off' }).WORKERS, 'auto')
    t.throws(() => loadConfig({ WORKERS: '0' }), { message: /WORKERS="0"/ })
    t.throws(() => loadConfig({ WORKERS: 'many' }), { message: /WORKERS="many"/ })
    t.throws(() => loadConfig({ WORKERS: '2' }), {
      message: /WORKERS=2: CACHE_MODE="memory" \(the default without REDIS_URL\)/
    }, 'memory by default')
    t.throws(() => loadConfig({ WORKERS: 'auto', CACHE_MODE: 'memory', REDIS_URL }), {
      message: /WORKERS=auto: CACHE_MODE="memory"/
    }, 'memory by choice')
    t.equal(loadConfig({ WORKERS: '2', REDIS_URL }).CACHE_MODE, 'redis', 'a shared cache is fine')
    t.equal(loadConfig({ WORKERS: '2', CACHE_MODE: 'off' }).CACHE_MODE, 'off', 'so is none')
    t.equal(loadConfig({ WORKERS: '1', CACHE_MODE: 'memory' }).CACHE_MODE, 'memory',
      'one process keeps its memory cache')
  })

t.test('a bad variable is refused with a message naming it and its value', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /PORT="eighty"/],
    [{ PORT: '70000' }, /PORT="70000"/],
    [{ CACHE_MODE: 'disk' }, /CACHE_MODE="disk"/],
    [{ CACHE_TTL: '0' }, /CACHE_TTL="0"/],
    [{ CACHE_INVALIDATE: 'maybe' }, /CACHE_INVALIDATE="maybe"/],
    [{ QUERY_MODE: 'orm' }, /QUERY_MODE="orm"/],
    [{ DATABASE_URL: 'mysql://localhost/db' }, /DATABASE_URL="mysql:\/\/localhost\/db"/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL="localhost:6379"/],
    [{ PUBLIC_URL: 'http://api.example.com/v1/' }, /PUBLIC_URL=/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
  t.throws(() => loadConfig({ PORT: 'x', QUERY_MODE: 'y' }), { message: /PORT="x".*QUERY_MODE="y"/ },
    'every bad variable is named at once')
  t.type(new ConfigError('x'), Error)
})

t.test('cache modes that cannot work are refused at boot', async (t) => {
  t.throws(() => loadConfig({ CACHE_MODE: 'redis' }), {
    message: /CACHE_MODE="redis": needs REDIS_URL or REDIS_CLUSTER_NODES/
  })
  t.throws(() => loadConfig({ CACHE_MODE: 'tiered' }), {
    message: /CACHE_MODE="tiered": needs REDIS_URL or REDIS_CLUSTER_NODES/
  })
  t.throws(() => loadConfig({ CACHE_LEASE_MS: '500' }), { message: /CACHE_LEASE_MS: leases live in Redis.*not memory/ })
  t.throws(() => loadConfig({ CACHE_INVALIDATION_REPLICAS: '1' }), {
    message: /CACHE_INVALIDATION_REPLICAS: replicas are Redis's.*not memory/
  })
  t.equal(loadConfig({ REDIS_URL }).CACHE_INVALIDATION_REPLICAS, 0, 'no WAIT for replicas by default')
  t.equal(loadConfig({ CACHE_MODE: 'tiered', REDIS_URL }).CACHE_L1_TTL, 5, 'tiered with Redis; L1 TTL 5 s by default')
  t.throws(() => loadConfig({ CACHE_PREFIX: 'has space' }), { message: /CACHE_PREFIX=/ })
  t.throws(() => loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '0' }), { message: /REDIS_COMMAND_TIMEOUT_MS=/ })
  const config = loadConfig({})
  t.same([config.CACHE_NEGATIVE_TTL, config.CACHE_FENCE, config.CACHE_PREFIX, config.REDIS_COMMAND_TIMEOUT_MS],
    [30, true, 'ec', 50])
})

t.test('unknown variables are ignored', async (t) => {
  t.doesNotThrow(() => loadConfig({ PATH: '/usr/bin', SOMETHING_ELSE: '1' }))
})
