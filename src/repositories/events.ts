import type { Queryable } from '../db/queryable.ts'
import { isoTimestamp, type PageParams, type PageRow } from '../db/sql.ts'
import type { CreateEvent, Event, UpdateEvent } from '../schemas/events.ts'

const EVENT = `events.id, events.name, ${isoTimestamp('events.date')} AS date, events.location, events.description, ` +
  `${isoTimestamp('events.created_at')} AS created_at, ${isoTimestamp('events.updated_at')} AS updated_at`

type EventPageRow = PageRow & { [Column in keyof Event]: Event[Column] | null }

export async function listEvents (db: Queryable, page: PageParams): Promise<{ count: number, results: Event[] }> {
  // The count and the page come from one statement (one round trip, one snapshot).
  const { rows } = await db.query<EventPageRow>({
    name: 'events-list',
    text: `SELECT total.count, page.*
      FROM (SELECT count(*)::int AS count FROM events) AS total
      LEFT JOIN LATERAL (SELECT ${EVENT} FROM events ORDER BY id LIMIT $1 OFFSET $2) AS page ON true`,
    values: [page.limit, page.offset]
  })
  const results = rows.filter((row) => row.id !== null) as Event[]
  return { count: rows[0]?.count ?? 0, results }
}

export async function findEvent (db: Queryable, id: number): Promise<Event | undefined> {
  const { rows } = await db.query<Event>({
    name: 'events-find',
    text: `SELECT ${EVENT} FROM events WHERE id = $1`,
    values: [id]
  })
  return rows[0]
}

export async function createEvent (db: Queryable, event: CreateEvent): Promise<Event> {
  const { rows } = await db.query<Event>({
    name: 'events-create',
    text: `INSERT INTO events (name, date, location, description) VALUES ($1, $2, $3, $4) RETURNING ${EVENT}`,
    values: [event.name, event.date, event.location, event.description ?? '']
  })
  return rows[0] as Event
}

/** Changes the fields given (PATCH), or all of them (PUT passes a whole event). */
export async function updateEvent (db: Queryable, id: number, changes: UpdateEvent): Promise<Event | undefined> {
  // No column is nullable, so NULL can stand for "not given" in a single static statement.
  const { rows } = await db.query<Event>({
    name: 'events-update',
    text: `UPDATE events SET
        name = COALESCE($2, name),
        date = COALESCE($3::timestamptz, date),
        location = COALESCE($4, location),
        description = COALESCE($5, description)
      WHERE id = $1
      RETURNING ${EVENT}`,
    values: [id, changes.name ?? null, changes.date ?? null, changes.location ?? null, changes.description ?? null]
  })
  return rows[0]
}

/**
 * Deletes the event and (ON DELETE CASCADE) its guests.
 * @returns the ids of the guests deleted with it, or `undefined` when there was no such event
 */
export async function deleteEvent (db: Queryable, id: number): Promise<{ guestIds: number[] } | undefined> {
  // The guests are read in the same statement: the delete's lock on the event row makes a
  // concurrent guest insert for it wait, so none can be missed.
  const { rows } = await db.query<{ guest_ids: number[] }>({
    name: 'events-delete',
    text: `WITH gone AS (DELETE FROM events WHERE id = $1 RETURNING id)
      SELECT ARRAY(SELECT g.id FROM guests g WHERE g.event_id = $1 ORDER BY g.id) AS guest_ids FROM gone`,
    values: [id]
  })
  const row = rows[0]
  return row && { guestIds: row.guest_ids }
}

/** The ids of an event's guests (whose cached views embed the event). */
export async function guestIdsOfEvent (db: Queryable, eventId: number): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>({
    name: 'events-guest-ids',
    text: 'SELECT id FROM guests WHERE event_id = $1',
    values: [eventId]
  })
  return rows.map((row) => row.id)
}
