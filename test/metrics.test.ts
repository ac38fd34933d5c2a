import t from 'tap'
import { buildTestApp } from './support/app.ts'
import { CACHE_TEST_MODES, cacheEnv } from './support/cache-modes.ts'
import { patchEvent, postEvent } from './support/fixtures.ts'

/** The value of one sample in a Prometheus text exposition, or 0 when absent. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const [series, value] = line.split(/ (?=[^ ]+$)/)
    if (Object.entries(labels).every(([key, wanted]) => series!.includes(`${key}="${wanted}"`))) return Number(value)
  }
  return 0
}

for (const mode of CACHE_TEST_MODES) {
  t.test(`${mode}: /metrics counters move with cache and database work`, async (t) => {
    const app = await buildTestApp(t, await cacheEnv(t, mode))
    const event = await postEvent(app)
    await app.inject('/events')
    await app.inject('/events')
    await app.inject('/events')
    await Promise.all(Array.from({ length: 20 }, () => app.inject(`/events/${event.id}`)))
    await patchEvent(t, app, event.id, { name: 'changed' })

    const scrape = await app.inject('/metrics')
    t.equal(scrape.statusCode, 200)
    t.match(scrape.headers['content-type'], /^text\/plain/)
    const text = scrape.body
    t.equal(sample(text, 'eventcache_cache_reads_total', { route: 'GET /events', outcome: 'MISS' }), 1)
    t.equal(sample(text, 'eventcache_cache_reads_total', { route: 'GET /events', outcome: 'HIT' }), 2)
    t.equal(sample(text, 'eventcache_cache_fills_total', { route: 'GET /events', result: 'stored' }), 1)
    const detail = { route: 'GET /events/:id' }
    t.equal(sample(text, 'eventcache_cache_reads_total', { ...detail, outcome: 'MISS' }), 20,
      'all 20 concurrent first reads are misses…')
    t.equal(sample(text, 'eventcache_cache_flight_waits_total', detail), 19, '…of which 19 waited for the one load')
    t.equal(sample(text, 'eventcache_cache_invalidations_total', { result: 'done' }), 2, 'POST and PATCH')
    t.equal(sample(text, 'eventcache_cache_invalidated_generations_total'), 2 + 3)
    t.equal(sample(text, 'eventcache_cache_breaker_open'), 0)
    t.equal(sample(text, 'eventcache_db_queries_total', { route: 'GET /events' }), 1,
      'one query for three reads of the list')
    t.equal(sample(text, 'eventcache_db_queries_total', { route: 'GET /events/:id' }), 1)
    t.equal(sample(text, 'eventcache_db_queries_total', { route: 'PATCH /events/:id' }), 4,
      'BEGIN, the event locked, the update with its guest ids, COMMIT')
    t.equal(sample(text, 'eventcache_db_request_duration_seconds_count', { route: 'POST /events' }), 1)
    const listReads = { route: '/events', method: 'GET', status_code: '200' }
    t.equal(sample(text, 'http_request_duration_seconds_count', listReads), 3)
    const buckets = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']
      .map((le) => sample(text, 'http_request_duration_seconds_bucket', { ...listReads, le }))
    t.same(buckets, [...buckets].sort((a, b) => a - b), 'buckets are cumulative')
    t.equal(buckets.at(-1), 3, 'and +Inf holds every observation')
    t.ok(sample(text, 'http_request_duration_seconds_sum', listReads) > 0, 'the durations are summed')
    t.notMatch(text, /route="\/events\/\d+"|key=|\{e:\d+\}/, 'labels are route patterns, never ids or keys')
    t.notMatch(text, /route="\/metrics"/, 'the scrape does not measure itself')
    t.match(text, /process_cpu_user_seconds_total/, 'default process metrics')

    await app.inject('/no-such-route')
    const second = (await app.inject('/metrics')).body
    t.notMatch(second, /route="\/metrics"/, 'scrapes are not measured')
    t.notMatch(second, /http_request_duration_seconds_count\{[^}]*status_code="404"/,
      'a URL no route matches is not measured')
    const patches = { route: '/events/:id', method: 'PATCH', status_code: '200' }
    t.equal(sample(second, 'http_request_duration_seconds_count', patches), 1, 'writes are measured too')
  })
}

t.test('METRICS=false: no /metrics route', async (t) => {
  const app = await buildTestApp(t, { METRICS: 'false' })
  t.equal((await app.inject('/metrics')).statusCode, 404)
})
