import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { CACHED_READ, sendWritten, serveFromCache, writePrecondition, WRITTEN } from '../cache/index.ts'
import { notFound } from '../errors.ts'
import { toPage } from '../pagination.ts'
import {
  createGuest,
  deleteGuest,
  findGuest,
  listGuests,
  updateGuest
} from '../repositories/guests.ts'
import { pageOf, PreconditionHeadersSchema } from '../schemas/common.ts'
import { cachedRead, created, deleted, readAnswers, updated, writeAnswers } from '../schemas/responses.ts'
import {
  CreateGuestSchema,
  GuestListQuerySchema,
  GuestListSchema,
  GuestParamsSchema,
  GuestSchema,
  UpdateGuestSchema,
  type Guest,
  type UpdateGuest
} from '../schemas/guests.ts'

const tags = ['guests']

const guests: FastifyPluginAsyncTypebox = async (app) => {
  const { PUBLIC_URL, QUERY_MODE } = app.config
  const { cache } = app
  const { views, invalidations } = cache.keys

  app.get('/', {
    ...CACHED_READ,
    schema: {
      tags,
      summary: 'List guests by id, each with its event',
      querystring: GuestListQuerySchema,
      response: { 200: cachedRead(GuestListSchema), ...readAnswers({ oneResource: false }) }
    }
  }, function serveGuests (request, reply) {
    const page = pageOf(request.query)
    serveFromCache(request, reply, views.guests(page), async (db) =>
      toPage(PUBLIC_URL, '/guests', page, await listGuests(db, page, QUERY_MODE)))
  })

  app.post('/', {
    ...WRITTEN,
    schema: {
      tags,
      summary: 'Add a guest to an event',
      body: CreateGuestSchema,
      response: { 201: created(GuestSchema), ...writeAnswers({ oneResource: false }) }
    }
  }, async function addGuest (request, reply) {
    const guest = await createGuest(request.db, request.body)
    await cache.invalidate(invalidations.guestCreated(guest.id, guest.event.id), request)
    return sendWritten(request, reply.code(201).header('location', `/guests/${guest.id}`), guest)
  })

  app.get('/:id', {
    ...CACHED_READ,
    schema: {
      tags,
      summary: 'Get a guest with its event',
      params: GuestParamsSchema,
      response: { 200: cachedRead(GuestSchema), ...readAnswers({ oneResource: true }) }
    }
  }, function serveGuest (request, reply) {
    const { id } = request.params
    serveFromCache(request, reply, views.guest(id), async (db) => {
      const guest = await findGuest(db, id, QUERY_MODE)
      if (!guest) throw notFound('guest', id)
      return guest
    })
  })

  // PUT passes the whole guest, PATCH only the fields to change: the same update either way.
  async function updateOr404 (request: FastifyRequest, reply: FastifyReply, id: number, changes: UpdateGuest) {
    const precondition = writePrecondition<Guest>(request, reply, GuestSchema)
    const updated = await updateGuest(request.db, id, changes, precondition)
    if (!updated) throw notFound('guest', id)
    // A move changes two events' guest lists.
    const eventIds = [updated.previousEventId, updated.guest.event.id]
    await cache.invalidate(invalidations.guestChanged(id, eventIds), request)
    return sendWritten(request, reply, updated.guest)
  }

  app.put('/:id', {
    ...WRITTEN,
    schema: {
      tags,
      headers: PreconditionHeadersSchema,
      summary: 'Replace a guest',
      params: GuestParamsSchema,
      body: CreateGuestSchema,
      response: { 200: updated(GuestSchema), ...writeAnswers({ oneResource: true }) }
    }
  }, async function replaceGuest (request, reply) {
    return updateOr404(request, reply, request.params.id, request.body)
  })

  app.patch('/:id', {
    ...WRITTEN,
    schema: {
      tags,
      headers: PreconditionHeadersSchema,
      summary: 'Change some fields of a guest (event_id moves it)',
      params: GuestParamsSchema,
      body: UpdateGuestSchema,
      response: { 200: updated(GuestSchema), ...writeAnswers({ oneResource: true }) }
    }
  }, async function changeGuest (request, reply) {
    return updateOr404(request, reply, request.params.id, request.body)
  })

  app.delete('/:id', {
    schema: {
      tags,
      headers: PreconditionHeadersSchema,
      summary: 'Delete a guest',
      params: GuestParamsSchema,
      response: { 204: deleted(), ...writeAnswers({ oneResource: true }) }
    }
  }, async function removeGuest (request, reply) {
    const { id } = request.params
    const deleted = await deleteGuest(request.db, id, writePrecondition<Guest>(request, reply, GuestSchema))
    if (!deleted) throw notFound('guest', id)
    await cache.invalidate(invalidations.guestChanged(id, [deleted.eventId]), request)
    return reply.code(204).send(null)
  })
}

export default guests
