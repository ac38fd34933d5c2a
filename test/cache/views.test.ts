import t from 'tap'
import { keyspace, leaseKey } from '../../src/cache/views.ts'

t.test('keys: namespaced, versioned, from numbers only, each sharing a hash tag with its generations', async (t) => {
  const { views, invalidations } = keyspace('ec')
  const page = { limit: 100, offset: 0 }
  const all = [views.events(page), views.event(7), views.eventGuests(7, page), views.guests(page), views.guest(9)]
  for (const view of all) {
    t.match(view.key, /^ec:v2:\{[^}]+\}/, view.route)
    const tag = /\{[^}]+\}/.exec(view.key)![0]
    t.ok(view.dependsOn.every((generation) => generation.includes(tag)), `${view.route}: same slot as its generations`)
    t.notMatch(view.route, /\d/, 'route names carry no ids')
  }
  t.equal(views.events({ limit: 5, offset: 10 }).key, 'ec:v2:{events}:l5:o10')
  t.not(views.events({ limit: 5, offset: 10 }).key, views.events({ limit: 10, offset: 5 }).key)
  t.same(views.eventGuests(7, page).dependsOn, ['ec:v2:{e:7}:gen', 'ec:v2:{e:7}:guests-gen'])
  t.same(keyspace('other').views.event(7).key, 'other:v2:{e:7}', 'the prefix isolates deployments and tests')

  t.same(invalidations.eventCreated(3), ['ec:v2:{events}:gen', 'ec:v2:{e:3}:gen'])
  t.same(invalidations.eventChanged(3, [10, 11]),
    ['ec:v2:{events}:gen', 'ec:v2:{e:3}:gen', 'ec:v2:{guests}:gen', 'ec:v2:{g:10}:gen', 'ec:v2:{g:11}:gen'])
  t.same(invalidations.guestCreated(10, 3), ['ec:v2:{guests}:gen', 'ec:v2:{g:10}:gen', 'ec:v2:{e:3}:guests-gen'])
  t.same(invalidations.guestChanged(10, [3, 4]),
    ['ec:v2:{guests}:gen', 'ec:v2:{g:10}:gen', 'ec:v2:{e:3}:guests-gen', 'ec:v2:{e:4}:guests-gen'])
  t.same(invalidations.guestChanged(10, [3, 3]),
    ['ec:v2:{guests}:gen', 'ec:v2:{g:10}:gen', 'ec:v2:{e:3}:guests-gen'], 'no move: one event')
})

t.test('keys: a flush pattern matches its own entries, never a lease or a generation', async (t) => {
  const { views, namespaces } = keyspace('ec')
  const page = { limit: 100, offset: 0 }
  const all = [views.events(page), views.event(7), views.eventGuests(7, page), views.guests(page), views.guest(9)]
  // Redis's glob, as the flush uses it: `*` is the only wildcard in these patterns.
  const escape = (part: string) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const matches = (pattern: string, key: string) =>
    new RegExp(`^${pattern.split('*').map(escape).join('.*')}$`).test(key)
  const tagOf = (key: string) => /\{[^}]+\}/.exec(key)![0]
  for (const view of all) {
    const flushedBy = namespaces.filter(({ pattern }) => matches(pattern, view.key)).map(({ route }) => route)
    t.same(flushedBy, [view.route], `${view.key}: its own namespace only`)
    t.equal(tagOf(leaseKey(view)), tagOf(view.key), `${view.route}: its lease shares its slot`)
    for (const key of [leaseKey(view), ...view.dependsOn]) {
      t.notOk(namespaces.some(({ pattern }) => matches(pattern, key)), `${key} is never flushed`)
    }
  }
})

t.test('views are made once per page or id and kept while the epoch stands, each page its own', async (t) => {
  const keys = keyspace('ec')
  const { views } = keys
  const page = { limit: 100, offset: 0 }
  t.equal(views.events(page), views.events({ ...page }), 'the same view object: no key is built again')
  t.same(views.events(page).keys, {
    identity: 'ec:v2:{events}:l100:o0', br: 'ec:v2:br:{events}:l100:o0', gzip: 'ec:v2:gzip:{events}:l100:o0'
  }, 'every representation\'s key, made with the view')
  // Pages whose packed numbers a careless memo would confuse: large offsets, and guest pages of far events.
  const offsets = [0, 1, 2 ** 14, 2 ** 21, 2 ** 30, 2_147_483_647]
  const guestPages = offsets.flatMap((offset) => {
    return [1, 2, 2 ** 20].map((id) => views.eventGuests(id, { limit: 7, offset }))
  })
  t.equal(new Set(guestPages.map((view) => view.key)).size, guestPages.length, 'distinct guest pages, distinct keys')
  for (const view of guestPages) t.match(view.key, /^ec:v2:\{e:\d+\}:guests:l7:o\d+$/)
  t.equal(views.eventGuests(2 ** 20, { limit: 7, offset: 2 ** 30 }).key, 'ec:v2:{e:1048576}:guests:l7:o1073741824')
  t.equal(new Set(offsets.map((offset) => views.guests({ limit: 3, offset }).key)).size, offsets.length)

  const before = views.event(7)
  keys.epoch = 'x1'
  t.not(views.event(7), before, 'a new epoch makes the views again')
  t.equal(views.event(7).key, 'ec:v2:x1:{e:7}')
  t.equal(views.event(7).keys.br, 'ec:v2:x1:br:{e:7}')
})
