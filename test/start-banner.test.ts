// The line a start ends with says what runs where, and never a password.
import t from 'tap'
import { loadConfig } from '../src/config.ts'
import { cacheDescription, startBanner } from '../src/start-banner.ts'

const URL = 'http://127.0.0.1:3000'

t.test('the banner: the URL, the cache and where it lives, the database, docs and panel when on', async (t) => {
  const development = loadConfig({ CACHE_MODE: 'memory' })
  t.equal(startBanner(development, { url: URL, database: 'embedded, data in /srv/.data/postgres' }),
    'eventcache serving http://127.0.0.1:3000 · cache: memory (in this process) · ' +
    'PostgreSQL: embedded, data in /srv/.data/postgres · docs: http://127.0.0.1:3000/docs · ' +
    'cache panel: http://127.0.0.1:3000/_cache')
  const production = loadConfig({ NODE_ENV: 'production', CACHE_MODE: 'off' })
  t.equal(startBanner(production, { url: URL, database: 'db.internal:5432/app' }),
    'eventcache serving http://127.0.0.1:3000 · cache: off (every read from PostgreSQL) · ' +
    'PostgreSQL: db.internal:5432/app', 'production: no docs, no panel')
})

t.test('where the cache lives, without the credentials of its URL', async (t) => {
  const redis = loadConfig({ REDIS_URL: 'redis://:secret@cache.internal:6380/0' })
  t.equal(cacheDescription(redis), 'redis (Redis at cache.internal:6380)')
  t.equal(cacheDescription(loadConfig({ REDIS_URL: 'redis://cache.internal', CACHE_MODE: 'tiered' })),
    'tiered (in this process, over Redis at cache.internal:6379)')
  t.equal(cacheDescription(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000' })),
    'redis (the Redis Cluster at 10.0.0.1:7000,10.0.0.2:7000)')
})
