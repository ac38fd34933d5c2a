import t from 'tap'
import { toPage } from '../src/pagination.ts'
import { buildTestApp } from './support/app.ts'
import { postEvent } from './support/fixtures.ts'

const base = 'https://api.example.com'

t.test('links follow LimitOffsetPagination', async (t) => {
  const page = (limit: number, offset: number, count: number) => {
    const { next, previous } = toPage(base, '/events', { limit, offset }, { count, results: [] })
    return { next, previous }
  }
  t.same(page(100, 0, 12), { next: null, previous: null }, 'everything on one page')
  t.same(page(5, 0, 12), { next: `${base}/events?limit=5&offset=5`, previous: null })
  t.same(page(5, 5, 12), { next: `${base}/events?limit=5&offset=10`, previous: `${base}/events?limit=5` })
  t.same(page(5, 10, 12), { next: null, previous: `${base}/events?limit=5&offset=5` })
  t.same(page(5, 7, 12), { next: null, previous: `${base}/events?limit=5&offset=2` },
    'a page ending exactly at count has no next')
  t.same(page(5, 3, 12), { next: `${base}/events?limit=5&offset=8`, previous: `${base}/events?limit=5` },
    'previous never goes below 0')
  t.same(page(5, 100, 12), { next: null, previous: `${base}/events?limit=5&offset=95` },
    'past the end, previous steps back by limit')
  t.same(page(5, 0, 0), { next: null, previous: null }, 'empty collection')
})

t.test('limit and offset edges over HTTP', async (t) => {
  const app = await buildTestApp(t)
  for (let i = 0; i < 3; i++) await postEvent(app)

  const refused: Array<[string, RegExp]> = [
    ['/events?limit=0', /querystring\/limit must be >= 1/],
    ['/events?limit=101', /querystring\/limit must be <= 100/],
    ['/events?limit=-5', /querystring\/limit must be >= 1/],
    ['/events?limit=ten', /querystring\/limit must be integer/],
    ['/events?offset=-1', /querystring\/offset must be >= 0/],
    ['/events?offset=1.5', /querystring\/offset must be integer/],
    ['/events?limit=Infinity', /querystring\/limit must be a finite integer/],
    ['/events?offset=1e400', /querystring\/offset must be a finite integer/],
    ['/guests?limit=101', /querystring\/limit must be <= 100/],
    ['/events/1/guests?limit=0', /querystring\/limit must be >= 1/]
  ]
  for (const [url, message] of refused) {
    const response = await app.inject(url)
    t.equal(response.statusCode, 400, url)
    t.match(response.json().message, message, url)
  }

  const max = (await app.inject('/events?limit=100')).json()
  t.equal(max.results.length, 3, 'limit=100 is allowed')
  const one = (await app.inject('/events?limit=1')).json()
  t.equal(one.results.length, 1)
  t.equal(one.next, 'http://api.test/events?limit=1&offset=1')

  const pastTheEnd = (await app.inject('/events?offset=50&limit=10')).json()
  t.same(pastTheEnd, { count: 3, next: null, previous: 'http://api.test/events?limit=10&offset=40', results: [] })

  const defaults = (await app.inject('/events')).json()
  t.equal(defaults.results.length, 3, 'limit defaults to 100')

  const extra = await app.inject('/events?limit=1&format=xml&utm_source=mail')
  t.equal(extra.statusCode, 200, 'unknown query parameters are ignored')
  t.equal(extra.json().next, 'http://api.test/events?limit=1&offset=1', 'and never leak into links')
})

t.test('links come from PUBLIC_URL, never from the Host header a client sends', async (t) => {
  const app = await buildTestApp(t)
  for (let i = 0; i < 2; i++) await postEvent(app)
  const headers = { host: 'evil.example', 'x-forwarded-host': 'evil.example' }
  const response = await app.inject({ url: '/events?limit=1', headers })
  t.equal(response.json().next, 'http://api.test/events?limit=1&offset=1')
})
