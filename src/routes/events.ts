import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { CACHED_READ, sendWritten, serveFromCache, writePrecondition, WRITTEN } from '../cache/index.ts'
import { notFound } from '../errors.ts'
import { toPage } from '../pagination.ts'
import {
  createEvent,
  deleteEvent,
  findEvent,
  listEvents,
  updateEvent
} from '../repositories/events.ts'
import { listEventGuests } from '../repositories/guests.ts'
import { pageOf, PreconditionHeadersSchema } from '../schemas/common.ts'
import { cachedRead, created, deleted, readAnswers, updated, writeAnswers } from '../schemas/responses.ts'
import {
  CreateEventSchema,
  EventListQuerySchema,
  EventListSchema,
  EventParamsSchema,
  EventSchema,
  UpdateEventSchema,
  type Event,
  type UpdateEvent
} from '../schemas/events.ts'
import { GuestListQuerySchema, GuestListSchema } from '../schemas/guests.ts'
import { invalidatingWrite } from './invalidating-write.ts'

const tags = ['events']

const events: FastifyPluginAsyncTypebox = async (app) => {
  const { PUBLIC_URL, QUERY_MODE } = app.config
  const { cache } = app
  const { views, invalidations } = cache.keys

  app.get('/', {
    ...CACHED_READ,
    schema: {
      tags,
      summary: 'List events by id',
      querystring: EventListQuerySchema,
      response: { 200: cachedRead(EventListSchema), ...readAnswers({ oneResource: false }) }
    }
  }, function serveEvents (request, reply) {
    const page = pageOf(request.query)
    serveFromCache(request, reply, views.events(page), async (db) =>
      toPage(PUBLIC_URL, '/events', page, await listEvents(db, page)))
  })

  app.post('/', {
    ...WRITTEN,
    schema: {
      tags,
      summary: 'Create an event',
      body: CreateEventSchema,
      response: { 201: created(EventSchema), ...writeAnswers({ oneResource: false }) }
    }
  }, async function addEvent (request, reply) {
    const event = await createEvent(request.db, request.body)
    await cache.invalidate(invalidations.eventCreated(event.id), request)
    return sendWritten(request, reply.code(201).header('location', `/events/${event.id}`), event)
  })

  app.get('/:id', {
    ...CACHED_READ,
    schema: {
      tags,
      summary: 'Get an event',
      params: EventParamsSchema,
      response: { 200: cachedRead(EventSchema), ...readAnswers({ oneResource: true }) }
    }
  }, function serveEvent (request, reply) {
    const { id } = request.params
    serveFromCache(request, reply, views.event(id), async (db) => {
      const event = await findEvent(db, id)
      if (!event) throw notFound('event', id)
      return event
    })
  })

  // PUT passes the whole event, PATCH only the fields to change: the same update either way.
  async function updateOr404 (request: FastifyRequest, reply: FastifyReply, id: number, changes: UpdateEvent) {
    const precondition = writePrecondition<Event>(request, reply, EventSchema)
    const updated = await invalidatingWrite(request, updateEvent(request.db, id, changes, precondition),
      (result) => result && invalidations.eventChanged(id, result.guestIds))
    if (!updated) throw notFound('event', id)
    return sendWritten(request, reply, updated.event)
  }

  app.put('/:id', {
    ...WRITTEN,
    schema: {
      tags,
      headers: PreconditionHeadersSchema,
      summary: 'Replace an event',
      params: EventParamsSchema,
      body: CreateEventSchema,
      response: { 200: updated(EventSchema), ...writeAnswers({ oneResource: true }) }
    }
  }, async function replaceEvent (request, reply) {
    return updateOr404(request, reply, request.params.id, request.body)
  })

  app.patch('/:id', {
    ...WRITTEN,
    schema: {
      tags,
      headers: PreconditionHeadersSchema,
      summary: 'Change some fields of an event',
      params: EventParamsSchema,
      body: UpdateEventSchema,
      response: { 200: updated(EventSchema), ...writeAnswers({ oneResource: true }) }
    }
  }, async function changeEvent (request, reply) {
    return updateOr404(request, reply, request.params.id, request.body)
  })

  app.delete('/:id', {
    schema: {
      tags,
      headers: PreconditionHeadersSchema,
      summary: 'Delete an event and its guests',
      params: EventParamsSchema,
      response: { 204: deleted(), ...writeAnswers({ oneResource: true }) }
    }
  }, async function removeEvent (request, reply) {
    const { id } = request.params
    const precondition = writePrecondition<Event>(request, reply, EventSchema)
    const deleted = await invalidatingWrite(request, deleteEvent(request.db, id, precondition),
      (result) => result && invalidations.eventChanged(id, result.guestIds))
    if (!deleted) throw notFound('event', id)
    return reply.code(204).send(null)
  })

  app.get('/:id/guests', {
    ...CACHED_READ,
    schema: {
      tags,
      summary: "List an event's guests by id",
      params: EventParamsSchema,
      querystring: GuestListQuerySchema,
      response: { 200: cachedRead(GuestListSchema), ...readAnswers({ oneResource: true }) }
    }
  }, function serveEventGuests (request, reply) {
    const { id } = request.params
    const page = pageOf(request.query)
    serveFromCache(request, reply, views.eventGuests(id, page), async (db) => {
      const found = await listEventGuests(db, id, page, QUERY_MODE)
      if (!found) throw notFound('event', id)
      return toPage(PUBLIC_URL, `/events/${id}/guests`, page, found)
    })
  })
}

export default events
