import t from 'tap'
import {
  generationsChanged,
  parseChangeMessage,
  type DatabaseChange
} from '../../src/cache/database/database-changes.ts'
import { keyspace } from '../../src/cache/views.ts'

t.test('messages migration 003 sends, and the epochs instances announce, are understood', async (t) => {
  t.same(parseChangeMessage('7 events U 1,2'), {
    kind: 'change', change: { id: '7', table: 'events', op: 'UPDATE', rows: [{ id: 1 }, { id: 2 }] }
  })
  t.same(parseChangeMessage('8 guests U 3:1,3:2'), {
    kind: 'change',
    change: { id: '8', table: 'guests', op: 'UPDATE', rows: [{ id: 3, eventId: 1 }, { id: 3, eventId: 2 }] }
  })
  t.same(parseChangeMessage('9 guests T *'), {
    kind: 'change', change: { id: '9', table: 'guests', op: 'TRUNCATE', rows: 'all' }
  })
  t.same(parseChangeMessage('epoch dAbC-_9'), { kind: 'epoch', epoch: 'dAbC-_9' })
  t.same(parseChangeMessage('owed aB-_c.3 ec:v2:{e:1}:gen ec:v2:{events}:gen'), {
    kind: 'owed', token: 'aB-_c.3', generations: ['ec:v2:{e:1}:gen', 'ec:v2:{events}:gen']
  })
  t.same(parseChangeMessage('heard aB-_c.3 xY_z'), { kind: 'heard', token: 'aB-_c.3', listener: 'xY_z' })
})

t.test('anything else on the channel is refused, never half-read', async (t) => {
  for (const payload of [
    '', 'hello', '7 events', '7 events U', '7 users U 1', '7 events X 1', 'x events U 1', '7 events U 1,a',
    '7 events U 0', '7 events U 1:2', '7 guests U 1', '7 guests U 1:2:3', '7 events U 1 extra', 'epoch', 'epoch a{b}',
    'epoch a b', `7 events U ${2 ** 60}`, 'owed', 'owed t1', 'owed t1 a b"c', 'owed t{1} a', 'heard', 'heard t1',
    'heard t1 a b', 'heard t1 a{b}'
  ]) {
    t.equal(parseChangeMessage(payload), undefined, JSON.stringify(payload))
  }
})

t.test('a change invalidates by the rules an API write follows', async (t) => {
  const { invalidations } = keyspace('ec')
  const change = (table: DatabaseChange['table'], op: DatabaseChange['op'], rows: DatabaseChange['rows']) =>
    ({ id: '1', table, op, rows })
  const asked: number[][] = []
  const guestsOf = async (eventIds: number[]) => {
    asked.push(eventIds)
    return [10, 11]
  }

  t.same(await generationsChanged(change('events', 'INSERT', [{ id: 1 }]), invalidations, guestsOf),
    invalidations.eventCreated(1))
  t.same(asked, [], 'a new event is embedded by no guest yet')
  t.same(new Set(await generationsChanged(change('events', 'UPDATE', [{ id: 1 }, { id: 2 }]), invalidations, guestsOf)),
    new Set([...invalidations.eventChanged(1, [10, 11]), ...invalidations.eventChanged(2, [])]),
    'both events, and the guests that embed them')
  t.same(asked, [[1, 2]], 'their guests asked for once')
  t.same(await generationsChanged(change('guests', 'INSERT', [{ id: 5, eventId: 1 }]), invalidations, guestsOf),
    invalidations.guestCreated(5, 1))
  t.same(new Set(await generationsChanged(change('guests', 'UPDATE', [{ id: 5, eventId: 1 }, { id: 5, eventId: 2 }]),
    invalidations, guestsOf)), new Set(invalidations.guestChanged(5, [1, 2])), 'a move reaches both lists')
  t.same(await generationsChanged(change('guests', 'DELETE', [{ id: 5, eventId: 2 }]), invalidations, guestsOf),
    invalidations.guestChanged(5, [2]))
  t.equal(await generationsChanged(change('events', 'UPDATE', 'all'), invalidations, guestsOf), 'all')
})
