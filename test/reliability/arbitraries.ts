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
      return schema.minProperties ? record.filter((value) => Object.keys(value).length >= schema.minProperties!) : record
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -(2 ** 31), max: schema.maximum ?? 2 ** 31 - 1 })
    case 'string':
      if (schema.format === 'email') return fc.emailAddress().filter((email) => email.length <= (schema.maxLength ?? 254))
      if (schema.format === 'date') return instants.map((ms) => new Date(Math.floor(ms / DAY) * DAY).toISOString().slice(0, 10))
      if (schema.format === 'date-time') {
        return fc.tuple(instants, fc.integer({ min: -12 * 60, max: 14 * 60 })).map(([ms, offsetMinutes]) => withOffset(ms, offsetMinutes))
      }
      return fc.string({ unit: 'grapheme', minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) })
        .filter((text) => text.length >= (schema.minLength ?? 0) && text.length <= (schema.maxLength ?? Infinity))
    default:
      return fc.constant(null)
  }
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
  return fc.tuple(valid(schema) as fc.Arbitrary<Record<string, unknown>>, fc.constantFrom(...names), fc.nat(1000), fc.constantFrom('missing', 'type', 'extra', 'range'))
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
      if (property.type === 'integer') broken[field] = n % 2 === 0 ? (property.maximum ?? 0) + 1 + n : (property.minimum ?? 0) - 1 - n
      else if (property.maxLength !== undefined && n % 2 === 0) broken[field] = 'x'.repeat(property.maxLength + 1)
      else if (property.minLength) broken[field] = ''
      else if (property.format || property.anyOf) broken[field] = `not-a-${property.format ?? 'date'}-${n}`
      else return undefined
      return { body: broken, field, describe: `${field} out of range` }
    })
    .filter((mutation): mutation is Mutation => mutation !== undefined)
}
