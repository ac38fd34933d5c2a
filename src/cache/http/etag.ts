import { createHash } from 'node:crypto'
import type { Encoding } from '../encodings.ts'

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'

/** A strong ETag for these exact bytes; computed once per produced response, never per hit. */
export function etagOf (body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`
}

/**
 * The ETag of a representation in `encoding`: its content's (the identity bytes' ETag) with the coding
 * named, so a write's If-Match is checked from the content alone, without compressing it again, and
 * instances whose zlib compresses the same content to other bytes still agree on the tag.
 */
export function codedEtag (identityEtag: string, encoding: Encoding): string {
  return encoding === 'identity' ? identityEtag : `${identityEtag.slice(0, -1)}.${encoding}"`
}

/** If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/ prefixes do not matter. */
export function matchesIfNoneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header === etag) return true
  return header.split(',').some((candidate) => {
    const tag = candidate.trim()
    return tag === '*' || tag === etag || tag === `W/${etag}`
  })
}
