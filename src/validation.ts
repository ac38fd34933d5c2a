import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

// Fastify's defaults, except that unknown body properties are reported, not silently dropped
// (each body schema says additionalProperties: false), and allErrors stays off (a DoS vector).
const options: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false }

/**
 * Params and query strings are text, so "42" must become 42 there; a JSON body already carries
 * types, and coercing it would store `"42"` for a name sent as the number 42 and `""` for a
 * description sent as null. So bodies get a validator that never coerces.
 */
export function createValidatorCompiler (): FastifySchemaCompiler<unknown> {
  const strictTypes = addFormats.default(new Ajv({ ...options, coerceTypes: false }))
  const coercing = addFormats.default(new Ajv({ ...options, coerceTypes: 'array' }))
  return ({ schema, httpPart }) => (httpPart === 'body' ? strictTypes : coercing).compile(schema as object)
}
