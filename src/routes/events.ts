import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Queryable } from '../db/queryable.ts'
import { notFound } from '../errors.ts'
import { toPage } from '../pagination.ts'
import { createEvent, deleteEvent, findEvent, listEvents, updateEvent } from '../repositories/events.ts'
import { listEventGuests } from '../repositories/guests.ts'
import { ErrorResponses } from '../schemas/common.ts'
import { CreateEventSchema, EventListQuerySchema, EventListSchema, EventParamsSchema, EventSchema, UpdateEventSchema, type UpdateEvent } from '../schemas/events.ts'
import { GuestListQuerySchema, GuestListSchema } from '../schemas/guests.ts'

const tags = ['events']

const events: FastifyPluginAsyncTypebox = async (app) => {
  const { PUBLIC_URL, QUERY_MODE } = app.config

  app.get('/', {
    schema: { tags, summary: 'List events by id', querystring: EventListQuerySchema, response: { 200: EventListSchema, ...ErrorResponses } }
  }, async (request) => {
    return toPage(PUBLIC_URL, '/events', request.query, await listEvents(request.db, request.query))
  })

  app.post('/', {
    schema: { tags, summary: 'Create an event', body: CreateEventSchema, response: { 201: EventSchema, ...ErrorResponses } }
  }, async (request, reply) => {
    const event = await createEvent(request.db, request.body)
    return reply.code(201).header('location', `/events/${event.id}`).send(event)
  })

  app.get('/:id', {
    schema: { tags, summary: 'Get an event', params: EventParamsSchema, response: { 200: EventSchema, ...ErrorResponses } }
  }, async (request) => {
    const event = await findEvent(request.db, request.params.id)
    if (!event) throw notFound('event', request.params.id)
    return event
  })

  // PUT passes the whole event, PATCH only the fields to change: the same update either way.
  async function updateOr404 (db: Queryable, id: number, changes: UpdateEvent) {
    const event = await updateEvent(db, id, changes)
    if (!event) throw notFound('event', id)
    return event
  }

  app.put('/:id', {
    schema: { tags, summary: 'Replace an event', params: EventParamsSchema, body: CreateEventSchema, response: { 200: EventSchema, ...ErrorResponses } }
  }, async (request) => updateOr404(request.db, request.params.id, request.body))

  app.patch('/:id', {
    schema: { tags, summary: 'Change some fields of an event', params: EventParamsSchema, body: UpdateEventSchema, response: { 200: EventSchema, ...ErrorResponses } }
  }, async (request) => updateOr404(request.db, request.params.id, request.body))

  app.delete('/:id', {
    schema: { tags, summary: 'Delete an event and its guests', params: EventParamsSchema, response: { 204: Type.Null(), ...ErrorResponses } }
  }, async (request, reply) => {
    if (!await deleteEvent(request.db, request.params.id)) throw notFound('event', request.params.id)
    return reply.code(204).send(null)
  })

  app.get('/:id/guests', {
    schema: {
      tags,
      summary: "List an event's guests by id",
      params: EventParamsSchema,
      querystring: GuestListQuerySchema,
      response: { 200: GuestListSchema, ...ErrorResponses }
    }
  }, async (request) => {
    const { id } = request.params
    const found = await listEventGuests(request.db, id, request.query, QUERY_MODE)
    if (!found) throw notFound('event', id)
    return toPage(PUBLIC_URL, `/events/${id}/guests`, request.query, found)
  })
}

export default events
