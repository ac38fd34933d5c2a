// The consistency checkers' model (test/reliability/consistency*.test.ts, flapping.test.ts): every
// write sets an entity's name to `v<n>` (n grows over the run) and an entity never has two writes in
// flight, so its versions commit in the order they are acknowledged. A read must show, for every
// entity it contains, at least the version acknowledged before the read started.
import { postJson } from './load.ts'

/** What a read shows of an event or a guest. */
export interface Named { id: number, name: string }

/** A deleted entity's version: above every name's, so a read that still shows the entity is older. */
export const DELETED = Infinity

/** One acknowledged version of an entity; `changeId`: the write was made in SQL, and notified this change. */
export interface Acknowledged { version: number, at: number, changeId?: string | undefined }

/** The version a name shows: `v<n>` is n; the seed's name is 0. */
export function versionOf (name: string): number {
  return name.startsWith('v') ? Number(name.slice(1)) : 0
}

/** "v12", or "deleted". */
export function versionName (version: number): string {
  return version === DELETED ? 'deleted' : `v${version}`
}

/** `events` events named 'seed', each with `guestsPerEvent` guests, created through `base`. */
export async function seedEvents (base: string, events: number, guestsPerEvent: number): Promise<{
  eventIds: number[]
  guestIds: number[]
  eventOf: Map<number, number>
}> {
  const eventOf = new Map<number, number>()
  const eventIds: number[] = []
  for (let e = 0; e < events; e++) {
    const event = await postJson<{ id: number }>(`${base}/events`, { name: 'seed', date: '2020-01-01', location: 'x' })
    eventIds.push(event.id)
    for (let g = 0; g < guestsPerEvent; g++) {
      const seed = { event_id: event.id, name: 'seed', email: 'g@example.com' }
      eventOf.set((await postJson<{ id: number }>(`${base}/guests`, seed)).id, event.id)
    }
  }
  return { eventIds, guestIds: [...eventOf.keys()], eventOf }
}

/**
 * The versions acknowledged so far, per entity (`event:3`, `guest:7`). Versions grow, so each
 * entity's history is sorted.
 */
export function versionLedger () {
  const acknowledged = new Map<string, number>()
  const history = new Map<string, Acknowledged[]>()
  const writing = new Set<string>()
  let version = 0
  return {
    history,
    /** The version a write of `entity` is to set, or undefined while another write of it is in flight. */
    claim (entity: string): number | undefined {
      if (writing.has(entity)) return undefined
      writing.add(entity)
      return ++version
    },
    /**
     * The claimed write of `entity` is over: acknowledged with `written`, or failed (undefined);
     * `inSql`: it was made in SQL, and notified the change `changeId` (undefined: none heard).
     */
    settle (entity: string, written?: number, inSql?: { changeId: string | undefined }): void {
      writing.delete(entity)
      if (written === undefined) return
      const at = performance.now()
      acknowledged.set(entity, Math.max(acknowledged.get(entity) ?? 0, written))
      const entry = inSql ? { version: written, at, changeId: inSql.changeId } : { version: written, at }
      history.set(entity, [...history.get(entity) ?? [], entry])
    },
    /** What a read starting now must show at least, per entity. */
    required: (): ReadonlyMap<string, number> => new Map(acknowledged),
    /** The first version of `entity` acknowledged above `shown`: what a stale read missed. */
    missed: (entity: string, shown: number): Acknowledged =>
      history.get(entity)!.find((entry) => entry.version > shown)!
  }
}

/** The views the checkers read. */
export type View = 'event' | 'guest' | 'event-guests' | 'events' | 'guests'

/** A read's URL path: `eventId` for the event views, `guestId` for the guest's. */
export function viewPath (view: View, eventId: number, guestId: number): string {
  switch (view) {
    case 'event': return `/events/${eventId}`
    case 'guest': return `/guests/${guestId}`
    case 'event-guests': return `/events/${eventId}/guests`
    case 'events': return '/events'
    case 'guests': return '/guests'
  }
}

type Guest = Named & { event: Named }
/** The body of a 200 from one of the views. */
export type ViewBody = Named & { event?: Named, results?: Guest[] }

/** The entities a 200's body shows, each with its name. */
export function shownBy (view: View, body: ViewBody): Array<[string, string]> {
  const guest = (entry: Guest): Array<[string, string]> =>
    [[`guest:${entry.id}`, entry.name], [`event:${entry.event.id}`, entry.event.name]]
  switch (view) {
    case 'event': return [[`event:${body.id}`, body.name]]
    case 'guest': return guest(body as Guest)
    case 'events': return body.results!.map((event): [string, string] => [`event:${event.id}`, event.name])
    case 'event-guests':
    case 'guests': return body.results!.flatMap(guest)
  }
}

/** The first entity `shown` older than `required` has it, if any. */
export function firstStale (
  shown: Array<[string, string]>,
  required: ReadonlyMap<string, number>
): { entity: string, shown: number, wanted: number } | undefined {
  for (const [entity, name] of shown) {
    const wanted = required.get(entity) ?? 0
    if (versionOf(name) < wanted) return { entity, shown: versionOf(name), wanted }
  }
  return undefined
}
