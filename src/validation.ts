import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import { storableDate, storableDateTime } from './storable-dates.ts'

// Fastify's defaults, except that unknown body properties are reported, not silently dropped
// (each body schema says additionalProperties: false), and allErrors stays off (a DoS vector).
const options: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false }

/**
 * Params and query strings are text, so "42" must become 42 there; a JSON body already carries
 * types, and coercing it would store `"42"` for a name sent as the number 42 and `""` for a
 * description sent as null. So bodies get a validator that never coerces.
 */
export function createValidatorCompiler (): FastifySchemaCompiler<unknown> {
  const strictTypes = withStorableDates(addFormats.default(new Ajv({ ...options, coerceTypes: false })))
  const coercing = withStorableDates(addFormats.default(new Ajv({ ...options, coerceTypes: 'array' })))
  return ({ schema, httpPart }) => httpPart === 'body'
    ? strictTypes.compile(schema as object)
    : finiteNumbersOnly(coercing.compile(schema as object))
}

/** `date` and `date-time` as PostgreSQL can store them (src/storable-dates.ts), not only as RFC 3339 writes them. */
function withStorableDates (ajv: Ajv): Ajv {
  return ajv.addFormat('date-time', storableDateTime).addFormat('date', storableDate)
}

/**
 * Ajv coerces the strings "Infinity" and "1e400" to non-finite numbers that pass `integer` and
 * skip `minimum`/`maximum` (ajv#2212, fastify#6718): `/events/Infinity` reached PostgreSQL as a
 * 500. Params and query strings are flat, so one pass over their values refuses them.
 */
function finiteNumbersOnly (validate: ValidateFunction): (data: unknown) => boolean {
  const checked = (data: unknown): boolean => {
    if (!validate(data)) {
      checked.errors = validate.errors
      return false
    }
    const infinite = nonFiniteField(data as Record<string, unknown>)
    checked.errors = infinite === undefined ? null : [notFinite(infinite)]
    return infinite === undefined
  }
  checked.errors = null as ErrorObject[] | null | undefined
  return checked
}

/** The first field holding a non-finite number; a loop, as every cached read's query passes here. */
function nonFiniteField (data: Record<string, unknown>): string | undefined {
  for (const field in data) {
    const value = data[field]
    if (typeof value === 'number' && !Number.isFinite(value)) return field
  }
  return undefined
}

function notFinite (field: string): ErrorObject {
  return {
    instancePath: `/${field}`,
    schemaPath: '#/type',
    keyword: 'type',
    params: { type: 'integer' },
    message: 'must be a finite integer'
  }
}
