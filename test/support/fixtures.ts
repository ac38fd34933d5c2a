import type { Test } from 'tap'
import type { TestApp } from './app.ts'

/** An event as the API answers it. */
export interface EventBody {
  id: number
  name: string
  date: string
  location: string
  description: string
  created_at: string
  updated_at: string
}

/** A guest as the API answers it: its event nested. */
export interface GuestBody {
  id: number
  name: string
  email: string
  event: EventBody
  created_at: string
  updated_at: string
}

/** What a new user would post: the article's example event, with a date-only date. */
export function eventInput (overrides: Record<string, unknown> = {}) {
  return {
    name: 'DjangoCon US 2020',
    date: '2020-07-15',
    location: 'San Diego, CA',
    description: 'DjangoCon US is the annual conference for the Django community.',
    ...overrides
  }
}

/** POST /events with `eventInput(overrides)`: the event created, or a throw naming the status. */
export async function postEvent (app: TestApp, overrides: Record<string, unknown> = {}): Promise<EventBody> {
  const response = await app.inject({ method: 'POST', url: '/events', payload: eventInput(overrides) })
  if (response.statusCode !== 201) throw new Error(`POST /events answered ${response.statusCode}: ${response.body}`)
  return response.json<EventBody>()
}

/** POST /guests for `eventId` (Ada Lovelace unless overridden): the guest created, or a throw. */
export async function postGuest (
  app: TestApp,
  eventId: number,
  overrides: Record<string, unknown> = {}
): Promise<GuestBody> {
  const response = await app.inject({
    method: 'POST',
    url: '/guests',
    payload: { event_id: eventId, name: 'Ada Lovelace', email: 'ada@example.com', ...overrides }
  })
  if (response.statusCode !== 201) throw new Error(`POST /guests answered ${response.statusCode}: ${response.body}`)
  return response.json<GuestBody>()
}

/**
 * PATCH /events/:id with `changes` (fields the API answers as sent, such as a name), asserting the
 * 200 and that the event answered shows them.
 */
export async function patchEvent (
  t: Test,
  app: TestApp,
  id: number,
  changes: Record<string, unknown>
): Promise<EventBody> {
  const response = await app.inject({ method: 'PATCH', url: `/events/${id}`, payload: changes })
  t.equal(response.statusCode, 200, `PATCH /events/${id} answers 200`)
  t.match(response.json(), { id, ...changes }, `PATCH /events/${id} answers the event as changed`)
  return response.json<EventBody>()
}
