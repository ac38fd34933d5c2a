import type { Transactional } from '../db/counting-queryable.ts'
import type { Queryable } from '../db/queryable.ts'
import { isoTimestamp, type PageParams, type PageRow } from '../db/sql.ts'
import type { CreateEvent, Event, UpdateEvent } from '../schemas/events.ts'

/** Checks the event as it is before a write, under its lock; it throws to refuse the write. */
type Precondition = (current: Event) => void

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

/**
 * Takes the event's row lock strong enough to exclude the foreign-key check of a guest insert or move
 * to it (which holds FOR KEY SHARE on the event until it commits). Once it is granted, no guest
 * joins the event until this transaction ends, and every guest that joined before is visible to
 * the next statement (READ COMMITTED: each statement reads a snapshot of its own, taken after the
 * wait). So the guests read in that statement are all the guests whose cached views embed the event.
 * With a precondition, the event is read under the lock and checked: the check and the write it
 * guards are one step, and of two writes holding the same ETag only the first passes.
 */
async function lockEvent (tx: Queryable, id: number, precondition?: Precondition): Promise<boolean> {
  if (precondition === undefined) {
    const { rows } = await tx.query({
      name: 'events-lock',
      text: 'SELECT 1 FROM events WHERE id = $1 FOR UPDATE',
      values: [id]
    })
    return rows.length > 0
  }
  const { rows: [current] } = await tx.query<Event>({
    name: 'events-lock-read',
    text: `SELECT ${EVENT} FROM events WHERE id = $1 FOR UPDATE`,
    values: [id]
  })
  if (current === undefined) return false
  precondition(current)
  return true
}

export interface UpdatedEvent {
  event: Event
  /** The event's guests (their views embed it), exactly as of the update. */
  guestIds: number[]
}

/**
 * Changes the fields given (PATCH), or all of them (PUT passes a whole event).
 * @param precondition checked against the event as it is before the change (a 412 throws, writing nothing)
 */
export async function updateEvent (
  db: Transactional,
  id: number,
  changes: UpdateEvent,
  precondition?: Precondition
): Promise<UpdatedEvent | undefined> {
  return db.transaction(async (tx) => {
    if (!await lockEvent(tx, id, precondition)) return undefined
    // No column is nullable, so NULL can stand for "not given" in a single static statement.
    const { rows } = await tx.query<Event & { guest_ids: number[] }>({
      name: 'events-update',
      text: `WITH updated AS (
          UPDATE events SET
            name = COALESCE($2, name),
            date = COALESCE($3::timestamptz, date),
            location = COALESCE($4, location),
            description = COALESCE($5, description)
          WHERE id = $1
          RETURNING ${EVENT}
        )
        SELECT updated.*, ARRAY(SELECT g.id FROM guests g WHERE g.event_id = $1 ORDER BY g.id) AS guest_ids
        FROM updated`,
      values: [id, changes.name ?? null, changes.date ?? null, changes.location ?? null, changes.description ?? null]
    })
    const { guest_ids: guestIds, ...event } = rows[0] as Event & { guest_ids: number[] }
    return { event, guestIds }
  })
}

/**
 * Deletes the event and its guests.
 * @param precondition checked against the event as it is before the delete (a 412 throws, deleting nothing)
 * @returns the ids of the guests deleted with it, or `undefined` when there was no such event
 */
export async function deleteEvent (
  db: Transactional,
  id: number,
  precondition?: Precondition
): Promise<{ guestIds: number[] } | undefined> {
  return db.transaction(async (tx) => {
    if (!await lockEvent(tx, id, precondition)) return undefined
    // The guests are deleted here rather than by the cascade, so their ids are those of the rows deleted.
    const { rows } = await tx.query<{ id: number }>({
      name: 'events-delete-guests',
      text: 'DELETE FROM guests WHERE event_id = $1 RETURNING id',
      values: [id]
    })
    await tx.query({ name: 'events-delete', text: 'DELETE FROM events WHERE id = $1', values: [id] })
    return { guestIds: rows.map((row) => row.id) }
  })
}
