// The request body limit, derived from the body schemas: the longest JSON text any of them accepts,
// so that no valid body is ever refused with a 413, and nothing much longer is read.
import type { TSchema } from '@sinclair/typebox'

/**
 * Bytes of JSON one string character can take: `\uXXXX` escapes a character of the BMP in 6 bytes,
 * and one beyond it (one character to `maxLength`) is a surrogate pair of two such escapes.
 */
const BYTES_PER_CHARACTER = 12

/** Whitespace JSON allows between tokens, for bodies that are pretty-printed or indented. */
export const WHITESPACE_ALLOWANCE = 1024

/**
 * The most bytes a compact JSON text valid against `schema` can take, every string character
 * written as its longest escape (a `date` is ten characters). A schema with no bound (a string
 * without `maxLength`, a number without `minimum` and `maximum`, an object open to other
 * properties, an array: no body has one) is a throw.
 */
export function longestJson (schema: TSchema): number {
  if (Array.isArray(schema.anyOf)) return Math.max(...(schema.anyOf as TSchema[]).map(longestJson))
  switch (schema.type) {
    case 'object': {
      if (schema.additionalProperties !== false) throw new Error('an object open to other properties has no bound')
      const members = Object.entries(schema.properties as Record<string, TSchema>)
        .map(([name, value]) => JSON.stringify(name).length + 1 + longestJson(value))
      return 2 + members.reduce((sum, length) => sum + length, 0) + Math.max(0, members.length - 1)
    }
    case 'string': {
      const length = schema.format === 'date' ? 'YYYY-MM-DD'.length : schema.maxLength
      if (typeof length !== 'number') throw new Error('a string without maxLength has no bound')
      return 2 + length * BYTES_PER_CHARACTER
    }
    case 'integer':
    case 'number':
      if (typeof schema.minimum !== 'number' || typeof schema.maximum !== 'number') {
        throw new Error('a number without minimum and maximum has no bound')
      }
      return Math.max(String(schema.minimum).length, String(schema.maximum).length)
    case 'boolean':
      return 5
    case 'null':
      return 4
    default:
      throw new Error(`no bound for a schema of type ${String(schema.type)}`)
  }
}

/** The body limit for routes taking these bodies: the longest of them, and room for whitespace. */
export function bodyLimitFor (schemas: readonly TSchema[]): number {
  return Math.max(...schemas.map(longestJson)) + WHITESPACE_ALLOWANCE
}
