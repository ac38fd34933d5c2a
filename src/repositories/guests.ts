import type { Config } from '../config.ts'
import type { Transactional } from '../db/counting-queryable.ts'
import type { Queryable } from '../db/queryable.ts'
import { isoTimestamp, type PageParams, type PageRow } from '../db/sql.ts'
import type { Event } from '../schemas/events.ts'
import type { CreateGuest, Guest, UpdateGuest } from '../schemas/guests.ts'
import { findEvent } from './events.ts'

export type QueryMode = Config['QUERY_MODE']

/** A guest's own columns, with `event_id` for the event to nest. */
const GUEST = `g.id, g.name, g.email, ${isoTimestamp('g.created_at')} AS created_at, ` +
  `${isoTimestamp('g.updated_at')} AS updated_at, g.event_id`
/** The guest's event under `event_*` names (its id is the guest's `event_id`), from events aliased `e`. */
const JOINED_EVENT = `e.name AS event_name, ${isoTimestamp('e.date')} AS event_date, e.location AS event_location, ` +
  `e.description AS event_description, ${isoTimestamp('e.created_at')} AS event_created_at, ` +
  `${isoTimestamp('e.updated_at')} AS event_updated_at`

interface GuestRow {
  id: number
  name: string
  email: string
  created_at: string
  updated_at: string
  event_id: number
}
type JoinedRow = GuestRow & { [Column in keyof Event as `event_${Column}`]: Event[Column] }
type Nullable<Row> = { [Column in keyof Row]: Row[Column] | null }

export class UnknownEventError extends Error {
  readonly statusCode = 400
  readonly code = 'EC_UNKNOWN_EVENT'
  constructor (eventId: number) {
    super(`body/event_id refers to event ${eventId}, which does not exist`)
  }
}

export interface GuestPage { count: number, results: Guest[] }

/** Checks the guest as it is before a write, under its lock; it throws to refuse the write. */
type Precondition = (current: Guest) => void

/**
 * Guest lists and details load the nested event one of two ways (`QUERY_MODE`):
 * - `join`: one statement joins each guest to its event;
 * - `naive`: what an ORM does without `select_related`: the guests first, then one query per
 *   guest for its event (N+1). Kept to measure what the join and the cache save.
 * Both build the same objects, so the serialised bodies are byte-identical.
 */
export async function listGuests (db: Queryable, page: PageParams, mode: QueryMode): Promise<GuestPage> {
  const { rows } = await db.query<PageRow & Nullable<JoinedRow>>(mode === 'join'
    ? {
        name: 'guests-list-join',
        text: `SELECT total.count, page.*
          FROM (SELECT count(*)::int AS count FROM guests) AS total
          LEFT JOIN LATERAL (
            SELECT ${GUEST}, ${JOINED_EVENT} FROM guests g JOIN events e ON e.id = g.event_id
            ORDER BY g.id LIMIT $1 OFFSET $2
          ) AS page ON true`,
        values: [page.limit, page.offset]
      }
    : {
        name: 'guests-list-naive',
        text: `SELECT total.count, page.*
          FROM (SELECT count(*)::int AS count FROM guests) AS total
          LEFT JOIN LATERAL (SELECT ${GUEST} FROM guests g ORDER BY g.id LIMIT $1 OFFSET $2) AS page ON true`,
        values: [page.limit, page.offset]
      })
  return { count: rows[0]?.count ?? 0, results: await toGuests(db, presentRows(rows), mode) }
}

/** The guests of one event, or `undefined` when the event does not exist. */
export async function listEventGuests (
  db: Queryable,
  eventId: number,
  page: PageParams,
  mode: QueryMode
): Promise<GuestPage | undefined> {
  const { rows } = await db.query<PageRow & Nullable<JoinedRow>>(mode === 'join'
    ? {
        name: 'event-guests-list-join',
        text: `SELECT total.count, page.*
          FROM events parent
          CROSS JOIN LATERAL (SELECT count(*)::int AS count FROM guests WHERE event_id = parent.id) AS total
          LEFT JOIN LATERAL (
            SELECT ${GUEST}, ${JOINED_EVENT} FROM guests g JOIN events e ON e.id = g.event_id
            WHERE g.event_id = parent.id ORDER BY g.id LIMIT $2 OFFSET $3
          ) AS page ON true
          WHERE parent.id = $1`,
        values: [eventId, page.limit, page.offset]
      }
    : {
        name: 'event-guests-list-naive',
        text: `SELECT total.count, page.*
          FROM events parent
          CROSS JOIN LATERAL (SELECT count(*)::int AS count FROM guests WHERE event_id = parent.id) AS total
          LEFT JOIN LATERAL (
            SELECT ${GUEST} FROM guests g WHERE g.event_id = parent.id ORDER BY g.id LIMIT $2 OFFSET $3
          ) AS page ON true
          WHERE parent.id = $1`,
        values: [eventId, page.limit, page.offset]
      })
  if (rows.length === 0) return undefined
  return { count: rows[0]?.count ?? 0, results: await toGuests(db, presentRows(rows), mode) }
}

export async function findGuest (db: Queryable, id: number, mode: QueryMode): Promise<Guest | undefined> {
  const { rows } = await db.query<JoinedRow>(mode === 'join'
    ? {
        name: 'guests-find-join',
        text: `SELECT ${GUEST}, ${JOINED_EVENT} FROM guests g JOIN events e ON e.id = g.event_id WHERE g.id = $1`,
        values: [id]
      }
    : { name: 'guests-find-naive', text: `SELECT ${GUEST} FROM guests g WHERE g.id = $1`, values: [id] })
  const [guest] = await toGuests(db, rows, mode)
  return guest
}

export async function createGuest (db: Queryable, guest: CreateGuest): Promise<Guest> {
  const { rows } = await db.query<JoinedRow>({
    name: 'guests-create',
    text: `WITH g AS (INSERT INTO guests (event_id, name, email) VALUES ($1, $2, $3) RETURNING *)
      SELECT ${GUEST}, ${JOINED_EVENT} FROM g JOIN events e ON e.id = g.event_id`,
    values: [guest.event_id, guest.name, guest.email]
  }).catch(rethrowUnknownEvent(guest.event_id))
  return joinedToGuest(rows[0] as JoinedRow)
}

export interface UpdatedGuest {
  guest: Guest
  /** The event the guest belonged to before the update (differs from `guest.event.id` on a move). */
  previousEventId: number
}

/**
 * Changes the fields given (PATCH), or all of them (PUT passes a whole guest).
 * @param precondition checked against the guest as it is before the change (a 412 throws, writing nothing)
 */
export async function updateGuest (
  db: Transactional,
  id: number,
  changes: UpdateGuest,
  precondition?: Precondition
): Promise<UpdatedGuest | undefined> {
  if (precondition === undefined) return updateGuestRow(db, id, changes)
  return db.transaction(async (tx) => {
    return await lockGuest(tx, id, precondition) ? updateGuestRow(tx, id, changes) : undefined
  })
}

async function updateGuestRow (db: Queryable, id: number, changes: UpdateGuest): Promise<UpdatedGuest | undefined> {
  // `before` reads the row under the UPDATE's own lock, so previous_event_id is the value replaced.
  const { rows } = await db.query<JoinedRow & { previous_event_id: number }>({
    name: 'guests-update',
    text: `WITH before AS (SELECT id, event_id FROM guests WHERE id = $1 FOR UPDATE),
        g AS (
          UPDATE guests SET
            event_id = COALESCE($2, guests.event_id),
            name = COALESCE($3, guests.name),
            email = COALESCE($4, guests.email)
          FROM before WHERE guests.id = before.id
          RETURNING guests.*, before.event_id AS previous_event_id
        )
      SELECT ${GUEST}, ${JOINED_EVENT}, g.previous_event_id FROM g JOIN events e ON e.id = g.event_id`,
    values: [id, changes.event_id ?? null, changes.name ?? null, changes.email ?? null]
  }).catch(rethrowUnknownEvent(changes.event_id))
  const row = rows[0]
  if (!row) return undefined
  return { guest: joinedToGuest(row), previousEventId: row.previous_event_id }
}

/**
 * Deletes the guest.
 * @param precondition checked against the guest as it is before the delete (a 412 throws, deleting nothing)
 * @returns the deleted guest's event id, or `undefined` when there was no such guest
 */
export async function deleteGuest (
  db: Transactional,
  id: number,
  precondition?: Precondition
): Promise<{ eventId: number } | undefined> {
  if (precondition === undefined) return deleteGuestRow(db, id)
  return db.transaction(async (tx) => await lockGuest(tx, id, precondition) ? deleteGuestRow(tx, id) : undefined)
}

async function deleteGuestRow (db: Queryable, id: number): Promise<{ eventId: number } | undefined> {
  const { rows } = await db.query<{ event_id: number }>({
    name: 'guests-delete',
    text: 'DELETE FROM guests WHERE id = $1 RETURNING event_id',
    values: [id]
  })
  const row = rows[0]
  return row && { eventId: row.event_id }
}

/**
 * Locks the guest's row and checks it as a GET reads it, its event included: the check and the write
 * it guards are one step, and of two writes holding the same ETag only the first passes. (The event is
 * not locked: a guest's write changes the guest, whatever its event says meanwhile.)
 */
async function lockGuest (tx: Queryable, id: number, precondition: Precondition): Promise<boolean> {
  const { rows: [current] } = await tx.query<JoinedRow>({
    name: 'guests-lock-read',
    text: `SELECT ${GUEST}, ${JOINED_EVENT} FROM guests g JOIN events e ON e.id = g.event_id
      WHERE g.id = $1 FOR UPDATE OF g`,
    values: [id]
  })
  if (current === undefined) return false
  precondition(joinedToGuest(current))
  return true
}

/** Ids of the guests of `eventIds` (whose views embed those events). */
export async function guestIdsOfEvents (db: Queryable, eventIds: readonly number[]): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>({
    name: 'guests-of-events',
    text: 'SELECT id FROM guests WHERE event_id = ANY($1::integer[])',
    values: [eventIds]
  })
  return rows.map((row) => row.id)
}

function presentRows<Row extends { id: unknown }> (rows: Row[]): Array<Row & JoinedRow> {
  return rows.filter((row) => row.id !== null) as Array<Row & JoinedRow>
}

async function toGuests (db: Queryable, rows: JoinedRow[], mode: QueryMode): Promise<Guest[]> {
  if (mode === 'join') return rows.map(joinedToGuest)
  const guests: Guest[] = []
  // One query per guest, one after the other, exactly as a lazy ORM relation would do it.
  for (const row of rows) {
    const event = await findEvent(db, row.event_id)
    if (!event) continue // deleted between the two queries: the cascade removed the guest too
    guests.push(toGuest(row, event))
  }
  return guests
}

function joinedToGuest (row: JoinedRow): Guest {
  return toGuest(row, {
    id: row.event_id,
    name: row.event_name,
    date: row.event_date,
    location: row.event_location,
    description: row.event_description,
    created_at: row.event_created_at,
    updated_at: row.event_updated_at
  })
}

function toGuest (row: GuestRow, event: Event): Guest {
  return { id: row.id, name: row.name, email: row.email, event, created_at: row.created_at, updated_at: row.updated_at }
}

const FOREIGN_KEY_VIOLATION = '23503'

function rethrowUnknownEvent (eventId: number | undefined) {
  return (error: unknown): never => {
    if (eventId !== undefined && (error as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
      throw new UnknownEventError(eventId)
    }
    throw error
  }
}
