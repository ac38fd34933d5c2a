import type { PageParams } from '../db/sql.ts'
import { encodedKey, type Encoding } from './encodings.ts'

/**
 * What the cache knows about one cacheable response: where its bytes live, and the generations
 * it depends on. A stored response is valid only while every generation it was filled under is
 * still current, so an invalidation is "give these generations a new value": O(1) per
 * generation however many pages or entries depend on it (no KEYS, no SCAN, no list of keys).
 *
 * Keys derive only from validated numbers (ids, limit, offset), never from raw input. Each key
 * carries a hash tag (`{…}`) shared with its generations, so a lookup (entry + generations) and the
 * fenced fill stay in one Redis Cluster slot.
 */
export interface View {
  /** Where the response is stored. */
  key: string
  /** Generation keys the response depends on. */
  dependsOn: string[]
  /** A route-level name for telemetry; never contains an id. */
  route: string
  /** Where each representation is stored: `key` for identity, encodedKey's for the others. */
  keys: Readonly<Record<Encoding, string>>
}

/** Views kept per kind: past this, a kind's memo starts over (the keys are cheap to make again). */
const MEMO_SIZE = 4096

/**
 * Each view made once and kept while the epoch stands, by a number made of what it is the view of:
 * a read then builds no key string, and its lookup hashes a string whose hash is already known.
 */
class ViewMemo {
  readonly #views = new Map<number, View>()

  get (id: number, make: () => View): View {
    let view = this.#views.get(id)
    if (view === undefined) {
      if (this.#views.size >= MEMO_SIZE) this.#views.clear()
      this.#views.set(id, view = make())
    }
    return view
  }

  clear (): void {
    this.#views.clear()
  }
}

/** A page as one number: limit is at most MAX_PAGE_SIZE, below 128. */
const pageId = ({ limit, offset }: PageParams) => offset * 128 + limit

function viewOf (key: string, dependsOn: string[], route: string): View {
  return { key, dependsOn, route, keys: { identity: key, br: encodedKey(key, 'br'), gzip: encodedKey(key, 'gzip') } }
}

/**
 * The key of a view's fill lease (CACHE_LEASE_MS): in the view's slot, and matched by none of the
 * namespaces' flush patterns (every one of them wants a letter or the tag's end where this has
 * `:fill-lease`), so a flush deletes entries only.
 */
export function leaseKey (view: View): string {
  const tagEnd = view.key.indexOf('}') + 1
  return `${view.key.slice(0, tagEnd)}:fill-lease${view.key.slice(tagEnd)}`
}

/**
 * Bump when the bytes a view produces change shape (a field added, a format changed), so that
 * instances of different versions sharing a Redis never serve each other's bytes.
 */
export const CACHE_FORMAT_VERSION = 2

export interface Keyspace {
  views: {
    events: (page: PageParams) => View
    event: (id: number) => View
    eventGuests: (eventId: number, page: PageParams) => View
    guests: (page: PageParams) => View
    guest: (id: number) => View
  }
  /** One per cached route: the glob matching its entries (for the panel's flush) and its route name. */
  readonly namespaces: Array<{ route: string, pattern: string }>
  /**
   * A part of every view's key (never of a generation's): giving it a new value makes every
   * stored response unreachable at once, without touching one key. '' until it is set. The
   * database-change listener sets it after each (re)connect, when messages may have been lost,
   * and for a change too large to list (database-invalidation.ts).
   */
  epoch: string
  /** What every key of this keyspace starts with. */
  readonly namespace: string
  /** The generations every list page depends on (shown by the panel). */
  collectionGenerations: string[]
  /** The generations each write changes, to run after the write has committed. */
  invalidations: {
    eventCreated: (eventId: number) => string[]
    /** An update or a delete: the event, every list, and every guest view that embeds it. */
    eventChanged: (eventId: number, guestIds: readonly number[]) => string[]
    guestCreated: (guestId: number, eventId: number) => string[]
    /** An update (a move changes two events' lists) or a delete. */
    guestChanged: (guestId: number, eventIds: readonly number[]) => string[]
  }
}

/**
 * The cache's keyspace under `prefix`. Generations:
 * - `{events}:gen`: every page of GET /events;
 * - `{guests}:gen`: every page of GET /guests (they embed events, so event writes change it too);
 * - `{e:ID}:gen`: GET /events/ID and every page of GET /events/ID/guests (which embed the event);
 * - `{e:ID}:guests-gen`: which guests GET /events/ID/guests lists;
 * - `{g:ID}:gen`: GET /guests/ID (which embeds its event).
 */
export function keyspace (prefix: string): Keyspace {
  const ns = `${prefix}:v${CACHE_FORMAT_VERSION}`
  // Where views live: `ns` itself, or under the epoch once there is one.
  let viewNs = ns
  let epoch = ''
  const eventsGeneration = `${ns}:{events}:gen`
  const guestsGeneration = `${ns}:{guests}:gen`
  const eventGeneration = (id: number) => `${ns}:{e:${id}}:gen`
  const eventGuestsGeneration = (id: number) => `${ns}:{e:${id}}:guests-gen`
  const guestGeneration = (id: number) => `${ns}:{g:${id}}:gen`

  const memos = {
    events: new ViewMemo(),
    event: new ViewMemo(),
    eventGuests: new ViewMemo(),
    guests: new ViewMemo(),
    guest: new ViewMemo()
  }

  return {
    views: {
      events: (page) => memos.events.get(pageId(page), () => {
        return viewOf(`${viewNs}:{events}:l${page.limit}:o${page.offset}`, [eventsGeneration], 'GET /events')
      }),
      event: (id) => memos.event.get(id, () => viewOf(`${viewNs}:{e:${id}}`, [eventGeneration(id)], 'GET /events/:id')),
      eventGuests: (eventId, page) => {
        const make = () => viewOf(`${viewNs}:{e:${eventId}}:guests:l${page.limit}:o${page.offset}`,
          [eventGeneration(eventId), eventGuestsGeneration(eventId)], 'GET /events/:id/guests')
        // The id and the page in one safe integer, for the pages an event's guests fill (offsets below 2^14).
        const packed = pageId(page)
        return packed < 2 ** 21 ? memos.eventGuests.get(eventId * 2 ** 21 + packed, make) : make()
      },
      guests: (page) => memos.guests.get(pageId(page), () => {
        return viewOf(`${viewNs}:{guests}:l${page.limit}:o${page.offset}`, [guestsGeneration], 'GET /guests')
      }),
      guest: (id) => memos.guest.get(id, () => viewOf(`${viewNs}:{g:${id}}`, [guestGeneration(id)], 'GET /guests/:id'))
    },
    get namespaces () {
      return [
        { route: 'GET /events', pattern: `${viewNs}:{events}:l*` },
        { route: 'GET /events/:id', pattern: `${viewNs}:{e:*}` },
        { route: 'GET /events/:id/guests', pattern: `${viewNs}:{e:*}:guests:l*` },
        { route: 'GET /guests', pattern: `${viewNs}:{guests}:l*` },
        { route: 'GET /guests/:id', pattern: `${viewNs}:{g:*}` }
      ]
    },
    get epoch () {
      return epoch
    },
    set epoch (value) {
      epoch = value
      viewNs = value === '' ? ns : `${ns}:${value}`
      for (const memo of Object.values(memos)) memo.clear()
    },
    namespace: `${ns}:`,
    collectionGenerations: [eventsGeneration, guestsGeneration],
    invalidations: {
      // A new id may have been asked for (and a 404 cached) before it existed.
      eventCreated: (eventId) => [eventsGeneration, eventGeneration(eventId)],
      eventChanged: (eventId, guestIds) => [
        eventsGeneration,
        eventGeneration(eventId),
        guestsGeneration,
        ...guestIds.map(guestGeneration)
      ],
      guestCreated: (guestId, eventId) => [guestsGeneration, guestGeneration(guestId), eventGuestsGeneration(eventId)],
      guestChanged: (guestId, eventIds) => [
        guestsGeneration,
        guestGeneration(guestId),
        ...[...new Set(eventIds)].map(eventGuestsGeneration)
      ]
    }
  }
}
