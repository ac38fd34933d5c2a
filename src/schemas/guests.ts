import { Type, type Static } from '@sinclair/typebox'
import { Id, IdParamsSchema, Name, PageSchema, PaginationQuerySchema, Timestamp } from './common.ts'
import { EventSchema } from './events.ts'

export const Email = Type.String({ format: 'email', maxLength: 254 })

/** A guest with its event nested, as the article's GuestSerializer returns it. */
export const GuestSchema = Type.Object({
  id: Id,
  name: Name,
  email: Email,
  event: EventSchema,
  created_at: Timestamp,
  updated_at: Timestamp
})

export const CreateGuestSchema = Type.Object({
  event_id: Id,
  name: Name,
  email: Email
}, { additionalProperties: false })

export const UpdateGuestSchema = Type.Partial(CreateGuestSchema, { additionalProperties: false, minProperties: 1 })

export const GuestParamsSchema = IdParamsSchema
export const GuestListQuerySchema = PaginationQuerySchema
export const GuestListSchema = PageSchema(GuestSchema)

export type Guest = Static<typeof GuestSchema>
export type CreateGuest = Static<typeof CreateGuestSchema>
export type UpdateGuest = Static<typeof UpdateGuestSchema>
