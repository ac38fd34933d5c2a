import type { TSchema } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { httpError, type HttpError } from '../../errors.ts'
import { COMPRESSED_ENCODINGS } from '../encodings.ts'
import { codedEtag, etagOf } from './etag.ts'

/**
 * A write's preconditions, checked against the resource's current state read under the write's
 * row lock: it throws a 412 to refuse the write, and the transaction it runs in writes nothing.
 */
export type Precondition<Resource extends object> = (current: Resource) => void

/**
 * The preconditions of a PUT, PATCH or DELETE (RFC 9110 §13.1.1, §13.1.2), or `undefined` when it
 * sends none. `current` is serialised with `schema`, as a GET of the resource serialises it, and
 * hashed: its ETag, in any coding, is the one a GET answers. `If-Match` passes when it names that
 * ETag (strong comparison: a weak tag never matches) or is `*`; `If-None-Match` passes when it names
 * neither (weak comparison) and is not `*`. Both are checked when both are sent; a resource that does
 * not exist is a 404 before either is looked at (RFC 9110 §13.2.1).
 */
export function writePrecondition<Resource extends object> (
  request: FastifyRequest,
  reply: FastifyReply,
  schema: TSchema
): Precondition<Resource> | undefined {
  const { 'if-match': ifMatch, 'if-none-match': ifNoneMatch } = request.headers
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined
  const serialize = reply.compileSerializationSchema(schema)
  return (current) => {
    const etag = etagOf(Buffer.from(serialize(current as Record<string, unknown>)))
    if (ifMatch !== undefined && !namesCurrent(ifMatch, etag, { weak: false })) {
      throw preconditionFailed('If-Match names no current representation of the resource')
    }
    if (ifNoneMatch !== undefined && namesCurrent(ifNoneMatch, etag, { weak: true })) {
      throw preconditionFailed('If-None-Match names a current representation of the resource')
    }
  }
}

/** Whether an If-Match or If-None-Match list names `*` or the content whose identity ETag is `etag`. */
function namesCurrent (header: string, etag: string, { weak }: { weak: boolean }): boolean {
  const current = [etag, ...COMPRESSED_ENCODINGS.map((encoding) => codedEtag(etag, encoding))]
  return header.split(',').some((candidate) => {
    const tag = candidate.trim()
    if (tag === '*') return true
    return current.includes(weak && tag.startsWith('W/') ? tag.slice(2) : tag)
  })
}

function preconditionFailed (message: string): HttpError {
  return httpError(412, message, 'EC_PRECONDITION_FAILED')
}
