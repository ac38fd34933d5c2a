import fc from 'fast-check'

/** The subset of JSON Schema the route schemas use (TypeBox emits plain JSON Schema; OpenAPI adds `nullable`). */
export interface Schema {
  type?: string
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  anyOf?: Schema[]
  enum?: unknown[]
  const?: unknown
  nullable?: boolean
  minLength?: number
  maxLength?: number
  pattern?: string
  minimum?: number
  maximum?: number
  format?: string
  minProperties?: number
  description?: string
}

const DAY = 24 * 60 * 60 * 1000
const instants = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) })

/** How `valid` draws integers; the contract test adds ids of rows that exist. */
export type Integers = (schema: Schema) => fc.Arbitrary<unknown>

const rangeOf: Integers = (schema) => fc.integer({
  min: schema.minimum ?? -(2 ** 31),
  max: schema.maximum ?? 2 ** 31 - 1
})

/** Values valid for `schema`, derived from the schema itself. */
export function valid (schema: Schema, integers: Integers = rangeOf): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((member) => valid(member, integers)))
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum) return fc.constantFrom(...schema.enum)
  switch (schema.type) {
    case 'object': {
      const properties = schema.properties ?? {}
      const required = new Set(schema.required ?? [])
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, valid(property, integers)])),
        { requiredKeys: Object.keys(properties).filter((name) => required.has(name)) }
      )
      const { minProperties } = schema
      return minProperties ? record.filter((value) => Object.keys(value).length >= minProperties) : record
    }
    case 'integer':
      return integers(schema)
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
  const short = fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(maxLength ?? 40, 40) })
  // Ajv counts code points, as the schema means: the longest string valid, in one unit, astral ones too.
  const longest = maxLength === undefined ? short : longestOf(maxLength)
  const pattern = schema.pattern === undefined ? undefined : new RegExp(schema.pattern, 'u')
  return fc.oneof({ weight: 5, arbitrary: short }, { weight: 1, arbitrary: longest })
    .filter((text) => codePoints(text) >= minLength && codePoints(text) <= (maxLength ?? Infinity))
    .filter((text) => pattern === undefined || pattern.test(text))
}

/** Strings of exactly `length` code points of one character: ASCII, Latin, CJK, or astral (two UTF-16 units). */
function longestOf (length: number): fc.Arbitrary<string> {
  return fc.constantFrom('x', 'é', '中', '😀').map((unit) => unit.repeat(length))
}

function codePoints (text: string): number {
  return [...text].length
}

/** An RFC 3339 date-time for the instant `ms`, written in a zone `offsetMinutes` east of UTC. */
function withOffset (ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23)
  if (offsetMinutes === 0) return `${local}Z`
  return `${local}${offsetText(offsetMinutes)}`
}

function offsetText (offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+'
  const minutes = Math.abs(offsetMinutes)
  return `${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`
}

export interface Mutation {
  body: Record<string, unknown>
  /** The field the 400 must name. */
  field: string
  describe: string
}

/** A valid object broken in one way the schema forbids, and the field the error must name. */
export function invalid (schema: Schema, integers: Integers = rangeOf): fc.Arbitrary<Mutation> {
  const properties = schema.properties ?? {}
  const names = Object.keys(properties)
  const bodies = valid(schema, integers) as fc.Arbitrary<Record<string, unknown>>
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

// Values at the edges: of the schema's own bounds, and of what JSON, UTF-8 and PostgreSQL take.

/** Values of every JSON type, for a schema that expects another. */
export const strangers: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, '', ' ', 'null', [], [1], {}, { nested: 1 }),
  fc.jsonValue({ maxDepth: 2 })
)

/** Text PostgreSQL or UTF-8 cannot hold as sent, or that is easily mishandled. */
const awkwardTexts = fc.constantFrom(
  '\u0000', 'a\u0000b', '\ud800', 'a\udfff', '\udc00\ud800', '\ud83d', '😀', '𝕏', '\u200b', '\u202e', 'e\u0301',
  ' ', '\t', '\n', '\r\n', '\u00a0', '\u2028', '\ufeff', ' x ', '%00', '%', '\\', '"', "'", '<script>', 'NULL'
)

/** A string schema's own edges: empty, at and one past its length bounds, in ASCII and astral characters. */
function stringEdges (schema: Schema): fc.Arbitrary<string> {
  const { minLength = 0, maxLength } = schema
  const bounds = maxLength === undefined ? [256, 1_000] : [maxLength, maxLength + 1]
  const lengths = [0, minLength, Math.max(0, minLength - 1), ...bounds]
  const units = fc.constantFrom('x', 'é', '中', '😀', ' ', '\u0000', '\ud800')
  const sized = fc.tuple(units, fc.constantFrom(...lengths)).map(([unit, length]) => unit.repeat(length))
  // One awkward character inside an otherwise valid string: only that character makes it refused.
  const spliced = fc.tuple(sized, awkwardTexts, fc.nat()).map(([text, awkward, at]) => {
    const position = text.length === 0 ? 0 : at % text.length
    return text.slice(0, position) + awkward + text.slice(position)
  })
  const anyText = fc.oneof(sized, spliced, awkwardTexts, fc.string({ unit: 'binary', maxLength: 20 }))
  const formatted = schema.format === undefined ? undefined : FORMAT_EDGES[schema.format]
  // A format is where RFC 3339, UTF-8 and PostgreSQL part ways most: its corners come first.
  if (formatted === undefined) return anyText
  return fc.oneof({ weight: 3, arbitrary: formatted }, { weight: 1, arbitrary: anyText })
}

const pad = (value: number, width: number) => String(value).padStart(width, '0')

/** `ms` as RFC 3339 in a zone `offsetMinutes` east of UTC: the written year may be 0000 or 10000 (five digits). */
function writtenAt (ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000)
  const year = local.getUTCFullYear()
  const date = `${pad(year, 4)}-${pad(local.getUTCMonth() + 1, 2)}-${pad(local.getUTCDate(), 2)}`
  const time = `${pad(local.getUTCHours(), 2)}:${pad(local.getUTCMinutes(), 2)}:${pad(local.getUTCSeconds(), 2)}`
  return `${date}T${time}${offsetMinutes === 0 ? 'Z' : offsetText(offsetMinutes)}`
}

function utc (year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  return date.getTime()
}

/**
 * Instants at the edges of what PostgreSQL's timestamptz holds and a four-digit year can write
 * (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z), a second past each; and others often mishandled.
 */
const edgeInstants = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(utc(1, 1, 1), utc(9999, 12, 31, 23, 59, 59)) },
  { weight: 1, arbitrary: fc.constantFrom(utc(0, 12, 31, 23, 59, 59), utc(10_000, 1, 1)) },
  { weight: 1, arbitrary: fc.constantFrom(utc(1970, 1, 1), utc(1969, 12, 31, 23, 59, 59), utc(2000, 2, 29)) }
)
const MAX_STORABLE_OFFSET = 15 * 60 + 59
const MAX_OFFSET = 23 * 60 + 59
/** Offsets up to ±23:59, RFC 3339's widest; PostgreSQL's stop at ±15:59, where most are drawn. */
const edgeOffsets = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, 1, -1, MAX_STORABLE_OFFSET, -MAX_STORABLE_OFFSET, 960, -960, MAX_OFFSET, -MAX_OFFSET)
  },
  { weight: 2, arbitrary: fc.integer({ min: -MAX_STORABLE_OFFSET, max: MAX_STORABLE_OFFSET }) },
  { weight: 1, arbitrary: fc.integer({ min: -MAX_OFFSET, max: MAX_OFFSET }) }
)

/** Date-times at the edges: each edge instant written in every offset; leap seconds; the syntax's corners. */
const dateTimeEdges: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(edgeInstants, edgeOffsets).map(([ms, offset]) => writtenAt(ms, offset)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '1998-12-31T23:59:60Z', '2016-12-31T23:59:60Z', '2020-01-01T00:59:60+01:00', '2020-06-30T23:59:60Z',
      '2020-01-01T23:59:60Z', '0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z',
      '10000-01-01T00:00:00Z', '+010000-01-01T00:00:00Z', '2020-01-01t00:00:00z', '2020-01-01 00:00:00Z',
      '2020-01-01\t00:00:00Z', '2020-01-01T00:00:00', '2020-01-01T00:00Z', '2020-01-01T24:00:00Z',
      '2020-02-30T00:00:00Z', '2021-02-29T00:00:00Z', '2020-01-01T00:00:00+0100', '2020-01-01T00:00:00+01',
      '2020-01-01T00:00:00-00:00', `2020-01-01T00:00:00.${'9'.repeat(40)}Z`, `2020-01-01T00:00:00.${'0'.repeat(60)}Z`
    )
  }
)

const dateEdges: fc.Arbitrary<string> = fc.constantFrom(
  '0000-01-01', '0001-01-01', '9999-12-31', '10000-01-01', '2020-02-29', '2021-02-29', '2020-13-01', '2020-00-10',
  '2020-1-1', '2020-01-01T00:00:00Z', '-0001-01-01', '1970-01-01', '２０２０-０１-０１'
)

const emailEdges: fc.Arbitrary<string> = fc.constantFrom(
  'a@b.co', `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`, // 254 characters
  `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`, // 255
  '@', 'a@', '@b.co', 'a@@b.co', 'Ada <ada@example.com>', 'ada@example.com\u0000', 'ádá@exämple.com',
  '"quoted"@example.com', 'a@[127.0.0.1]', 'a@localhost', ' ada@example.com'
)

const FORMAT_EDGES: Record<string, fc.Arbitrary<string>> = {
  'date-time': dateTimeEdges,
  date: dateEdges,
  email: emailEdges
}

/** Integers at the edges of the schema's range and of PostgreSQL's and JavaScript's integers; floats. */
function integerEdges (schema: Schema): fc.Arbitrary<number> {
  const bounds = [schema.minimum, schema.maximum].filter((bound): bound is number => bound !== undefined)
  return fc.oneof(
    fc.constantFrom(...bounds.flatMap((bound) => [bound - 1, bound, bound + 1])),
    fc.constantFrom(0, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e21),
    fc.constantFrom(0.5, 1.5, -0.5, 5e-324, 1.0000000000000002, 1e308),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.double({ noNaN: true, noDefaultInfinity: true })
  )
}

/** A value for `schema` at its edges: its bounds, its format's corners, or another JSON type. */
export function edge (schema: Schema): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(edge))
  switch (schema.type) {
    case 'string': return fc.oneof({ weight: 4, arbitrary: stringEdges(schema) }, { weight: 1, arbitrary: strangers })
    case 'integer': case 'number':
      return fc.oneof({ weight: 4, arbitrary: integerEdges(schema) }, { weight: 1, arbitrary: strangers })
    case 'object': return objectEdges(schema, rangeOf)
    default: return strangers
  }
}

/** Anything for `schema`: valid most of the time, else at an edge. */
export function anyValue (schema: Schema, integers: Integers = rangeOf): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 3, arbitrary: valid(schema, integers) }, { weight: 2, arbitrary: edge(schema) })
}

/**
 * Objects for an object schema: valid ones; one field at an edge; every field anything, each maybe
 * missing; a property the schema does not name (`constructor` among them); the broken ones
 * `invalid` makes; or no object at all.
 */
function objectEdges (schema: Schema, integers: Integers): fc.Arbitrary<unknown> {
  const properties = Object.entries(schema.properties ?? {})
  if (properties.length === 0) return fc.oneof(fc.constant({}), strangers)
  const bodies = valid(schema, integers) as fc.Arbitrary<Record<string, unknown>>
  const oneAtAnEdge = fc.oneof(...properties.map(([name, property]) =>
    fc.tuple(bodies, edge(property)).map(([body, value]) => ({ ...body, [name]: value }))))
  const everyField = fc.record(
    Object.fromEntries(properties.map(([name, property]) => [name, anyValue(property, integers)])),
    { requiredKeys: [] }
  )
  const extra = fc.tuple(bodies, fc.constantFrom('constructor', 'toString', 'id', 'created_at', ''), strangers)
    .map(([body, name, value]) => ({ ...body, [name]: value }))
  return fc.oneof(
    { weight: 6, arbitrary: oneAtAnEdge },
    { weight: 2, arbitrary: everyField },
    { weight: 1, arbitrary: extra },
    { weight: 1, arbitrary: invalid(schema, integers).map((mutation) => mutation.body) },
    { weight: 1, arbitrary: strangers }
  )
}

/** A request body for `schema`: valid, or at one of its edges. */
export function bodyValue (schema: Schema, integers: Integers): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 1, arbitrary: valid(schema, integers) },
    { weight: 3, arbitrary: objectEdges(schema, integers) }
  )
}

/** How a number can be written in a URL, where every value is text. */
const numericTexts = fc.constantFrom(
  '', ' 1', '1 ', '+1', '01', '1.0', '1e3', '1e400', '0x10', '0b1', '1_000', 'Infinity', '-Infinity', 'NaN', '-0',
  '9'.repeat(400), '١', '１', 'true', 'null', '[]', '1,2'
)

/**
 * Text for a path or query parameter of `schema`: a valid value, an edge value, or text that only
 * looks like a number; undefined and objects as their JSON.
 */
export function parameterText (schema: Schema, integers: Integers = rangeOf): fc.Arbitrary<unknown> {
  const asText = (value: unknown) => typeof value === 'string' ? value : JSON.stringify(value) ?? ''
  return fc.oneof(
    { weight: 6, arbitrary: valid(schema, integers) },
    { weight: 3, arbitrary: edge(schema).map(asText) },
    { weight: 1, arbitrary: schema.type === 'integer' ? numericTexts : awkwardTexts }
  )
}
