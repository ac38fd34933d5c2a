import fc from 'fast-check'

/** The subset of JSON Schema the route schemas use (TypeBox emits plain JSON Schema). */
export interface Schema {
  type?: string
  properties?: Record<string, Schema>
  required?: string[]
  anyOf?: Schema[]
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  format?: string
  minProperties?: number
}

const DAY = 24 * 60 * 60 * 1000
const instants = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) })

/** Values valid for `schema`, derived from the schema itself. */
export function valid (schema: Schema): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(valid))
  switch (schema.type) {
    case 'object': {
      const properties = schema.properties ?? {}
      const required = new Set(schema.required ?? [])
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, valid(property)])),
        { requiredKeys: Object.keys(properties).filter((name) => required.has(name)) }
      )
      const { minProperties } = schema
      return minProperties ? record.filter((value) => Object.keys(value).length >= minProperties) : record
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -(2 ** 31), max: schema.maximum ?? 2 ** 31 - 1 })
    case 'string':
      return validString(schema)
    default:
      return fc.constant(null)
  }
}

function validString (schema: Schema): fc.Arbitrary<string> {
  const { minLength = 0, maxLength } = schema
  if (schema.format === 'email') return fc.emailAddress().filter((email) => email.length <= (maxLength ?? 254))
  if (schema.format === 'date') return instants.map((ms) => new Date(ms - ms % DAY).toISOString().slice(0, 10))
  if (schema.format === 'date-time') {
    const offsets = fc.integer({ min: -12 * 60, max: 14 * 60 })
    return fc.tuple(instants, offsets).map(([ms, offsetMinutes]) => withOffset(ms, offsetMinutes))
  }
  // Graphemes can be several code units: the filter keeps the lengths the schema counts.
  return fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(maxLength ?? 40, 40) })
    .filter((text) => text.length >= minLength && text.length <= (maxLength ?? Infinity))
}

/** An RFC 3339 date-time for the instant `ms`, written in a zone `offsetMinutes` east of UTC. */
function withOffset (ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23)
  if (offsetMinutes === 0) return `${local}Z`
  const sign = offsetMinutes > 0 ? '+' : '-'
  const minutes = Math.abs(offsetMinutes)
  return `${local}${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`
}

export interface Mutation {
  body: Record<string, unknown>
  /** The field the 400 must name. */
  field: string
  describe: string
}

/** A valid object broken in one way the schema forbids, and the field the error must name. */
export function invalid (schema: Schema): fc.Arbitrary<Mutation> {
  const properties = schema.properties ?? {}
  const names = Object.keys(properties)
  const bodies = valid(schema) as fc.Arbitrary<Record<string, unknown>>
  const kinds = fc.constantFrom('missing', 'type', 'extra', 'range')
  return fc.tuple(bodies, fc.constantFrom(...names), fc.nat(1000), kinds)
    .map(([body, field, n, kind]): Mutation | undefined => {
      const property = properties[field]!
      const broken = { ...body }
      if (kind === 'missing') {
        if (!(schema.required ?? []).includes(field)) return undefined
        delete broken[field]
        return { body: broken, field, describe: `without ${field}` }
      }
      if (kind === 'extra') {
        broken[`unknown_${n}`] = n
        return { body: broken, field: `unknown_${n}`, describe: 'an unknown property' }
      }
      if (kind === 'type') {
        broken[field] = property.type === 'integer' || property.anyOf ? { nested: n } : n % 2 === 0 ? n : [String(n)]
        return { body: broken, field, describe: `${field} of the wrong type` }
      }
      const value = outOfRange(property, n)
      if (value === undefined) return undefined
      broken[field] = value
      return { body: broken, field, describe: `${field} out of range` }
    })
    .filter((mutation): mutation is Mutation => mutation !== undefined)
}

/** A value past a bound of `property` (`n` picks which), or undefined when it has none to pass. */
function outOfRange (property: Schema, n: number): unknown {
  if (property.type === 'integer') {
    return n % 2 === 0 ? (property.maximum ?? 0) + 1 + n : (property.minimum ?? 0) - 1 - n
  }
  if (property.maxLength !== undefined && n % 2 === 0) return 'x'.repeat(property.maxLength + 1)
  if (property.minLength) return ''
  if (property.format || property.anyOf) return `not-a-${property.format ?? 'date'}-${n}`
  return undefined
}
