import { Type, type Static } from '@sinclair/typebox'
import { Id, IdParamsSchema, Name, PageSchema, PaginationQuerySchema, STORABLE_TEXT, Timestamp } from './common.ts'

/**
 * The article posts `"date": "2020-07-15"`; both that and a full RFC 3339 date-time are accepted,
 * within what PostgreSQL stores and the API can answer as RFC 3339 (src/storable-dates.ts).
 */
export const EventDate = Type.Union([
  Type.String({ format: 'date-time', maxLength: 64 }),
  Type.String({ format: 'date' })
], {
  description: 'RFC 3339 date-time, or a YYYY-MM-DD date meaning midnight UTC; from 0001-01-01T00:00:00Z to ' +
    '9999-12-31T23:59:59Z, with a UTC offset from -15:59 to +15:59, its year written from 0001'
})

export const EventSchema = Type.Object({
  id: Id,
  name: Name,
  date: Timestamp,
  location: Name,
  description: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp
})

const DESCRIPTION_LIMIT = { maxLength: 10_000, pattern: STORABLE_TEXT }

/** POST and PUT (a full replacement): a missing description is empty. */
export const CreateEventSchema = Type.Object({
  name: Name,
  date: EventDate,
  location: Name,
  description: Type.Optional(Type.String({ ...DESCRIPTION_LIMIT, default: '' }))
}, { additionalProperties: false })

/** PATCH: only the fields sent change (so no defaults here). */
export const UpdateEventSchema = Type.Partial(
  Type.Object({ name: Name, date: EventDate, location: Name, description: Type.String(DESCRIPTION_LIMIT) }),
  { additionalProperties: false, minProperties: 1 }
)

export const EventParamsSchema = IdParamsSchema
export const EventListQuerySchema = PaginationQuerySchema
export const EventListSchema = PageSchema(EventSchema)

export type Event = Static<typeof EventSchema>
export type CreateEvent = Static<typeof CreateEventSchema>
export type UpdateEvent = Static<typeof UpdateEventSchema>
