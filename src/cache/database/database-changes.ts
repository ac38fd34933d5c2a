import type { Keyspace } from '../views.ts'

/**
 * The channel migration 003's triggers notify on, and instances announce their epochs and owed
 * invalidations on.
 */
export const CHANGES_CHANNEL = 'eventcache_changes'

/** The `application_name` of every instance's listening connection: how a sender counts who hears it. */
export const LISTENER_NAME = 'eventcache-changes'

/** One statement's change, as migration 003's trigger describes it. */
export interface DatabaseChange {
  /** Unique per change, the same on every instance (the trigger's sequence). */
  id: string
  table: 'events' | 'guests'
  op: 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE'
  /** Event ids, or guests with their event; `'all'` when the change did not list its rows. */
  rows: 'all' | Array<{ id: number, eventId?: number }>
}

/** What a message on the channel says. */
export type ChangeMessage =
  | { kind: 'change', change: DatabaseChange }
  /** An instance gave every view a new epoch: the others adopt it, so they share entries again. */
  | { kind: 'epoch', epoch: string }
  /**
   * An instance answered a write whose invalidation Redis did not get: every instance owes these
   * generations until one of them has given them a new value in Redis (owed-announcement.ts).
   */
  | { kind: 'owed', token: string, generations: string[] }
  /** A listener applied the owed message `token`: `listener` names it. */
  | { kind: 'heard', token: string, listener: string }

const OPERATIONS = { I: 'INSERT', U: 'UPDATE', D: 'DELETE', T: 'TRUNCATE' } as const
const EPOCH = /^[A-Za-z0-9_.-]{1,64}$/
/** Tokens and listener names are made like epochs; a generation is a key of views.ts's keyspace. */
const TOKEN = EPOCH
const GENERATION = /^[A-Za-z0-9_.:{}-]{1,200}$/

/** The payload of a message on CHANGES_CHANNEL; `undefined` for anything else (never trusted). */
export function parseChangeMessage (payload: string): ChangeMessage | undefined {
  const [head, second, op, rows, extra] = payload.split(' ')
  if (head === 'epoch') {
    return second !== undefined && EPOCH.test(second) && op === undefined
      ? { kind: 'epoch', epoch: second }
      : undefined
  }
  if (head === 'owed') return parseOwed(payload)
  if (head === 'heard') {
    return second !== undefined && TOKEN.test(second) && op !== undefined && TOKEN.test(op) && rows === undefined
      ? { kind: 'heard', token: second, listener: op }
      : undefined
  }
  if (head === undefined || !/^\d+$/.test(head) || extra !== undefined) return undefined
  if ((second !== 'events' && second !== 'guests') || rows === undefined) return undefined
  const operation = OPERATIONS[op as keyof typeof OPERATIONS]
  if (operation === undefined) return undefined
  const listed = rows === '*' ? 'all' : parseRows(rows, second === 'guests')
  if (listed === undefined) return undefined
  return { kind: 'change', change: { id: head, table: second, op: operation, rows: listed } }
}

function parseOwed (payload: string): ChangeMessage | undefined {
  const [, token, ...generations] = payload.split(' ')
  if (token === undefined || !TOKEN.test(token) || generations.length === 0) return undefined
  if (!generations.every((generation) => GENERATION.test(generation))) return undefined
  return { kind: 'owed', token, generations }
}

function parseRows (rows: string, withEvent: boolean): Array<{ id: number, eventId?: number }> | undefined {
  const parsed: Array<{ id: number, eventId?: number }> = []
  for (const row of rows.split(',')) {
    const [id, eventId, extra] = row.split(':').map(Number)
    if (!isId(id) || extra !== undefined || (withEvent ? !isId(eventId) : eventId !== undefined)) return undefined
    parsed.push(withEvent ? { id, eventId: eventId! } : { id })
  }
  return parsed
}

function isId (value: number | undefined): value is number {
  return Number.isSafeInteger(value) && value! > 0
}

/**
 * The generations a change makes invalid, by the rules an API write follows (views.ts), or
 * `'all'` when it did not say which rows it touched. An event's update or delete reaches the
 * guests that embed it: `guestsOf` names them, as the database has them now.
 */
export async function generationsChanged (
  change: DatabaseChange,
  invalidations: Keyspace['invalidations'],
  guestsOf: (eventIds: number[]) => Promise<number[]>
): Promise<string[] | 'all'> {
  if (change.rows === 'all') return 'all'
  const rows = change.rows
  if (change.table === 'events') {
    if (change.op === 'INSERT') return rows.flatMap(({ id }) => invalidations.eventCreated(id))
    const guestIds = await guestsOf(rows.map(({ id }) => id))
    // Each event's generations with every guest's once: an event's list is enough to reach them.
    return unique(rows.flatMap(({ id }, i) => invalidations.eventChanged(id, i === 0 ? guestIds : [])))
  }
  if (change.op === 'INSERT') return unique(rows.flatMap(({ id, eventId }) => invalidations.guestCreated(id, eventId!)))
  const eventsOf = new Map<number, number[]>()
  for (const { id, eventId } of rows) eventsOf.set(id, [...eventsOf.get(id) ?? [], eventId!])
  return unique([...eventsOf].flatMap(([id, eventIds]) => invalidations.guestChanged(id, eventIds)))
}

function unique (generations: string[]): string[] {
  return [...new Set(generations)]
}
