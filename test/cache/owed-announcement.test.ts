import t from 'tap'
import { OwedAnnouncement } from '../../src/cache/resilience/owed-announcement.ts'
import { parseChangeMessage } from '../../src/cache/database/database-changes.ts'
import { OWED_ANNOUNCEMENT } from '../../src/cache/tuning.ts'

/** An announcement whose messages are kept, heard by `listeners` (as PostgreSQL would count them). */
function announcement (listeners: number, send?: () => Promise<number>) {
  const sent: string[] = []
  const logged: string[] = []
  const keep = (_: object, message: string) => { logged.push(message) }
  const log = { info: keep, warn: keep, error: keep }
  const owed = new OwedAnnouncement({
    send: send ?? (async (payloads) => {
      sent.push(...payloads)
      return listeners
    }),
    log
  })
  const tokens = () => sent.map((payload) => {
    const message = parseChangeMessage(payload)
    if (message?.kind !== 'owed') throw new Error(`not an owed message: ${payload}`)
    return message.token
  })
  return { owed, sent, logged, tokens }
}

t.test('a write waits until every listener connected has heard what it owes', async (t) => {
  const { owed, sent, logged, tokens } = announcement(2)
  let answered = false
  const announced = owed.announce(['ec:v2:{e:1}:gen', 'ec:v2:{events}:gen']).then(() => { answered = true })
  await new Promise((resolve) => setImmediate(resolve))
  t.same(sent.map(parseChangeMessage), [{
    kind: 'owed', token: tokens()[0], generations: ['ec:v2:{e:1}:gen', 'ec:v2:{events}:gen']
  }], 'one message naming every generation')
  t.ok(owed.isOwn(tokens()[0]!), 'the instance knows its own message')
  owed.heard(tokens()[0]!, 'first')
  owed.heard(tokens()[0]!, 'first')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(answered, 'one listener of two has heard (twice): still waiting')
  owed.heard(tokens()[0]!, 'second')
  await announced
  t.same(logged, [], 'nothing to report')
})

t.test('a listener that does not answer holds a write up for the wait at most, and is reported', async (t) => {
  const { owed, logged, tokens } = announcement(2)
  const started = performance.now()
  const announced = owed.announce(['ec:v2:{e:1}:gen'])
  await new Promise((resolve) => setImmediate(resolve))
  owed.heard(tokens()[0]!, 'first')
  await announced
  const waited = performance.now() - started
  t.ok(waited >= OWED_ANNOUNCEMENT.waitMs - 5, `waited ${waited.toFixed(0)} ms for the second listener`)
  t.match(logged, [/not every instance confirmed/])
})

t.test('many generations go out in several messages, each under the payload limit, each heard', async (t) => {
  const { owed, sent, tokens } = announcement(1)
  const generations = Array.from({ length: 2_000 }, (_, i) => `ec:v2:{g:${i + 1}}:gen`)
  const announced = owed.announce(generations)
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(sent.length > 1, `${sent.length} messages`)
  t.ok(sent.every((payload) => Buffer.byteLength(payload) < 8_000), 'each under PostgreSQL\'s 8,000 bytes')
  const carried = sent.flatMap((payload) => {
    const message = parseChangeMessage(payload)
    return message?.kind === 'owed' ? message.generations : []
  })
  t.same(carried, generations, 'every generation once, in order')
  for (const token of tokens()) owed.heard(token, 'only')
  await announced
  t.equal(new Set(tokens()).size, sent.length, 'a token each')
})

t.test('a channel that cannot be reached fails nothing: the write answers, and it is logged', async (t) => {
  const { owed, logged } = announcement(0, async () => { throw new Error('connection refused') })
  await owed.announce(['ec:v2:{e:1}:gen'])
  t.match(logged, [/could not tell the other instances/])
})
