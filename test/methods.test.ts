// RFC 9110 §15.5.6 and §9.3.7: a method a resource does not support is a 405 with `Allow`, and
// OPTIONS answers `Allow`; a path no route serves stays a 404.
import t from 'tap'
import { buildTestApp } from './support/app.ts'
import { countRows } from './support/database.ts'
import { postEvent } from './support/fixtures.ts'

t.test('a method a path is not served for: 405 naming it, Allow listing the others, nothing done', async (t) => {
  const app = await buildTestApp(t)
  const event = await postEvent(app)
  const before = await countRows(app)
  const cases = [
    ['DELETE', '/events', 'GET, HEAD, OPTIONS, POST'],
    ['PUT', '/guests', 'GET, HEAD, OPTIONS, POST'],
    ['TRACE', `/events/${event.id}`, 'DELETE, GET, HEAD, OPTIONS, PATCH, PUT'],
    ['POST', `/events/${event.id}/guests`, 'GET, HEAD, OPTIONS'],
    ['POST', '/health', 'GET, HEAD, OPTIONS']
  ] as const
  for (const [method, url, allow] of cases) {
    const response = await app.inject({ method, url })
    t.equal(response.statusCode, 405, `${method} ${url}: 405`)
    t.equal(response.headers.allow, allow, `${method} ${url}: Allow ${allow}`)
    t.equal(response.headers['cache-control'], 'no-store')
    t.same(response.json(), {
      statusCode: 405,
      error: 'Method Not Allowed',
      message: `${method} is not allowed on ${url}; allowed: ${allow}`
    })
  }
  t.same(await countRows(app), before, 'nothing was written')
})

t.test('OPTIONS answers Allow with a 204; an unknown path is still a 404', async (t) => {
  const app = await buildTestApp(t)
  const options = await app.inject({ method: 'OPTIONS', url: '/events/7' })
  t.equal(options.statusCode, 204)
  t.equal(options.headers.allow, 'DELETE, GET, HEAD, OPTIONS, PATCH, PUT')
  t.equal(options.body, '')
  const list = await app.inject({ method: 'OPTIONS', url: '/events' })
  t.equal(list.headers.allow, 'GET, HEAD, OPTIONS, POST')
  const nowhere = await app.inject({ method: 'DELETE', url: '/nowhere' })
  t.equal(nowhere.statusCode, 404)
  t.equal(nowhere.headers.allow, undefined)
})
