// Requests for the contract test (test/contract.test.ts), derived from an operation of the OpenAPI
// document: a plan that fast-check draws and shrinks, made concrete against the app's state when
// it is sent (the ids that exist then, the ETags answered before).
import fc from 'fast-check'
import type { Operation } from './openapi.ts'
import {
  anyValue,
  bodyValue,
  type Integers,
  parameterText,
  type Schema,
  strangers,
  valid
} from './schema-arbitraries.ts'

/** An id that exists when the request is sent: the `pick`th of those of the resource the path names. */
export class ExistingId {
  readonly pick: number
  constructor (pick: number) {
    this.pick = pick
  }

  toJSON (): string {
    return `<existing id #${this.pick}>`
  }

  // How fast-check prints it in a counterexample.
  [fc.toStringMethod] (): string {
    return this.toJSON()
  }
}

/** Integers as the contract draws them: the schema's range, or ids that exist. */
export const integersWithIds: Integers = (schema) => fc.oneof(
  { weight: 2, arbitrary: valid(schema) },
  // The largest id the schema allows names no row: a 404 that comes again, with its ETag.
  { weight: 1, arbitrary: fc.constant(schema.maximum ?? 2 ** 31 - 1) },
  { weight: 4, arbitrary: fc.nat(1_000).map((pick) => new ExistingId(pick)) }
)

/** An entity tag as a request names it: one the app answered before (for this URL or any), or made up. */
export type TagPlan =
  | { kind: 'star' }
  | { kind: 'made up', tag: string, weak: boolean }
  | { kind: 'answered', sameUrl: boolean, weak: boolean, pick: number }
  | { kind: 'list', tags: TagPlan[] }
  | { kind: 'garbage', text: string }

export type BodyPlan =
  | { kind: 'json', value: unknown, style: 'compact' | 'pretty' | 'escaped' }
  | { kind: 'raw', text: string }
  | { kind: 'size', bytes: number }

export interface RequestPlan {
  path: Record<string, unknown>
  /** Pairs in order (a name may repeat); `encode: false` sends the text as it is. */
  query: Array<{ name: string, value: unknown, encode: boolean }>
  body: BodyPlan | undefined
  /** With a body: undefined sends `application/json`, null no Content-Type at all. */
  contentType: string | null | undefined
  acceptEncoding: string | undefined
  ifNoneMatch: TagPlan | undefined
  ifMatch: TagPlan | undefined
  authorization: 'the key' | 'none' | string
}

const tagText = fc.string({ maxLength: 12 }).map((text) => text.replace(/"/g, ''))

const oneTag: fc.Arbitrary<TagPlan> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'star' } as const) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('made up' as const), tag: tagText, weak: fc.boolean() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('answered' as const),
      sameUrl: fc.boolean(),
      weak: fc.boolean(),
      pick: fc.nat()
    })
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), text: fc.string({ maxLength: 20 }) }) }
)

const tagPlan: fc.Arbitrary<TagPlan> = fc.oneof(
  { weight: 5, arbitrary: oneTag },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('list' as const), tags: fc.array(oneTag, { minLength: 1, maxLength: 3 }) })
  }
)

const acceptEncodings = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('br', 'gzip', 'identity', 'gzip, deflate, br', 'br;q=1.0, gzip;q=0.8, *;q=0.1')
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom('*', '*;q=0', 'identity;q=0', 'identity;q=0, *;q=0', 'br;q=0, gzip', 'gzip;q=0, br;q=0',
      'x-gzip', 'deflate', 'compress', 'zstd', 'gzip;q=2', 'br;q=abc', 'br;q=0.001', 'BR', '', ',', ';q=1', 'gzip;;')
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) }
)

const contentTypes = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON',
      'application/json; charset=latin1', 'application/json; charset="utf-8"')
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom('text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x', 'application/merge-patch+json', 'application/xml', 'application/jsonx',
      'application', '', ';', 'application/json/extra')
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }
)

/** Bodies that are not a JSON value: broken, empty, prototype keys, duplicate keys, a byte order mark. */
const rawBodies = fc.oneof(
  fc.constantFrom('', ' ', '{', '}', '{"name":', "{'name':'x'}", '{"name":"x",}', 'nul', 'undefined', '{"a":1}{"b":2}',
    '\ufeff{}', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}',
    '{"name":"a","name":"b"}',
    '{"name":"\u0001"}', '{"name":"\\ud800"}', '{"name":"\\u0000"}', '[', '"\\', '0'.repeat(400), '1e999', '-'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 })
)

export interface PlanOptions {
  /** The body limit: bodies of exactly that many bytes, and one more, are drawn. */
  bodyLimit: number
}

/** Request plans for `operation`: every parameter, body and header drawn from what the document says of it. */
export function requestPlans (operation: Operation, { bodyLimit }: PlanOptions): fc.Arbitrary<RequestPlan> {
  const path = fc.record(Object.fromEntries(operation.pathParameters.map((parameter) => {
    return [parameter.name, parameterText(parameter.schema, integersWithIds).filter(isPathSegment)]
  })))
  const documentedQuery = operation.queryParameters.map((parameter) => fc.option(fc.record({
    name: fc.constant(parameter.name),
    value: parameterText(parameter.schema, integersWithIds),
    encode: fc.boolean()
  }), { nil: undefined, freq: 3 }))
  const names = operation.queryParameters.map(({ name }) => name)
  const unknownQuery = fc.array(fc.record({
    name: fc.oneof(fc.constantFrom(...names, 'token', 'x'), fc.string({ maxLength: 8 })),
    value: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('', '%', '%zz', '%00', '&', '=')),
    encode: fc.boolean()
  }), { maxLength: 2 })
  const query = fc.tuple(fc.tuple(...documentedQuery), unknownQuery)
    .map(([documented, unknown]) => [...documented.filter((pair) => pair !== undefined), ...unknown])
  return fc.record({
    path,
    query,
    body: bodyPlans(operation, bodyLimit),
    contentType: fc.oneof(
      { weight: 12, arbitrary: fc.constant(undefined) },
      { weight: 4, arbitrary: contentTypes },
      { weight: 1, arbitrary: fc.constant(null) }
    ),
    acceptEncoding: sometimes(acceptEncodings, 3),
    ifNoneMatch: sometimes(tagPlan, 1),
    // The document names no precondition on reads but If-None-Match; writes get If-Match as often.
    ifMatch: sometimes(tagPlan, operation.method === 'GET' ? 0.1 : 1),
    authorization: fc.oneof(
      { weight: 8, arbitrary: fc.constant('the key') },
      { weight: 1, arbitrary: fc.constant('none') },
      { weight: 1, arbitrary: fc.constantFrom('Bearer wrong-key-0123456789', 'Bearer ', 'Basic YTpi', 'bearer x') }
    )
  })
}

/** `values` `odds` times as often as undefined. */
function sometimes<T> (values: fc.Arbitrary<T>, odds: number): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: Math.round(odds * 10), arbitrary: values },
    { weight: 10, arbitrary: fc.constant(undefined) }
  )
}

/** Text that stays one path segment: an empty one, `.` or `..` name another resource (RFC 3986 §5.2.4). */
function isPathSegment (value: unknown): boolean {
  return typeof value !== 'string' || !['', '.', '..'].includes(value)
}

const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

function bodyPlans (operation: Operation, bodyLimit: number): fc.Arbitrary<BodyPlan | undefined> {
  if (!WITH_BODY.has(operation.method)) return fc.constant(undefined)
  const json = (values: fc.Arbitrary<unknown>) => fc.record({
    kind: fc.constant('json' as const),
    value: values,
    style: fc.constantFrom('compact' as const, 'pretty' as const, 'escaped' as const)
  })
  const sizes = fc.record({
    kind: fc.constant('size' as const),
    bytes: fc.constantFrom(bodyLimit, bodyLimit + 1, bodyLimit * 2)
  })
  const raw = fc.record({ kind: fc.constant('raw' as const), text: rawBodies })
  const schema: Schema | undefined = operation.body?.schema
  if (schema === undefined) {
    // The document names no body: most requests send none, some send one all the same.
    return fc.oneof(
      { weight: 6, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: json(fc.oneof(anyValue({ type: 'object' }), strangers)) },
      { weight: 1, arbitrary: raw }
    )
  }
  return fc.oneof(
    { weight: 12, arbitrary: json(bodyValue(schema, integersWithIds)) },
    { weight: 2, arbitrary: raw },
    { weight: 1, arbitrary: sizes },
    { weight: 1, arbitrary: fc.constant(undefined) }
  )
}

/** What the app has answered so far, and what exists now: what a plan's placeholders are made of. */
export interface RequestContext {
  /** Ids that exist now, by the path segment of their collection (`events`). */
  ids: Record<string, number[]>
  /** ETags answered, by URL, and all of them in the order they came. */
  etags: { byUrl: Map<string, string[]>, all: string[] }
  apiKey: string | undefined
}

export interface ConcreteRequest {
  method: Operation['method']
  url: string
  headers: Record<string, string>
  payload: string | undefined
  /** The value the body's JSON holds, for a body sent as JSON. */
  json: { value: unknown } | undefined
  /** The parameters' text as sent; a query value sent unencoded is read as the server's parser reads it. */
  parameters: { path: Record<string, string>, query: Array<{ name: string, text: string, encoded: boolean }> }
}

/** The plan as the request it stands for now. */
export function concreteRequest (operation: Operation, plan: RequestPlan, context: RequestContext): ConcreteRequest {
  const collection = operation.path.split('/')[1] ?? ''
  const resolve = (value: unknown, ids: number[]): unknown => {
    if (value instanceof ExistingId) return ids.length === 0 ? 1 : ids[value.pick % ids.length]
    if (Array.isArray(value)) return value.map((item) => resolve(item, ids))
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, resolve(item, ids)]))
    }
    return value
  }
  const anyIds = Object.values(context.ids).flat()
  const ownIds = context.ids[collection] ?? anyIds
  const pathTexts = Object.fromEntries(Object.entries(plan.path).map(([name, value]) => {
    return [name, String(resolve(value, ownIds))]
  }))
  const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(pathTexts[name] ?? ''))
  const queryTexts = plan.query.map(({ name, value, encode }) => {
    return { name, text: String(resolve(value, ownIds)), encoded: encode }
  })
  const query = queryTexts.map(({ name, text, encoded }) => {
    return encoded ? `${encodeURIComponent(name)}=${encodeURIComponent(text)}` : `${name}=${text}`
  }).join('&')
  const url = query === '' ? path : `${path}?${query}`
  const headers: Record<string, string> = {}
  const headerValue = (name: string, value: string | undefined) => {
    // Node refuses, before any route sees it, a header value with control or non-Latin-1 characters.
    if (value !== undefined && /^[\t\x20-\x7e\x80-\xff]*$/.test(value)) headers[name] = value
  }
  headerValue('accept-encoding', plan.acceptEncoding)
  headerValue('if-none-match', plan.ifNoneMatch && tagField(plan.ifNoneMatch, url, context))
  headerValue('if-match', plan.ifMatch && tagField(plan.ifMatch, path, context))
  if (plan.authorization === 'the key') {
    if (context.apiKey !== undefined) headers.authorization = `Bearer ${context.apiKey}`
  } else if (plan.authorization !== 'none') {
    headers.authorization = plan.authorization
  }
  const body = plan.body && concreteBody(plan.body, (value) => resolve(value, anyIds))
  if (body !== undefined && plan.contentType !== null) {
    headerValue('content-type', plan.contentType ?? 'application/json')
  }
  return {
    method: operation.method,
    url,
    headers,
    payload: body?.payload,
    json: body?.json,
    parameters: { path: pathTexts, query: queryTexts }
  }
}

function concreteBody (plan: BodyPlan, resolve: (value: unknown) => unknown) {
  switch (plan.kind) {
    case 'raw': return { payload: plan.text, json: undefined }
    case 'size': {
      // JSON of exactly `bytes` bytes, valid for no schema: only its size can be refused.
      const padding = 'x'.repeat(Math.max(0, plan.bytes - '{"padding":""}'.length))
      return { payload: `{"padding":"${padding}"}`, json: { value: { padding } } }
    }
    case 'json': {
      const value = resolve(plan.value)
      // JSON.stringify writes an unpaired surrogate as its escape and a NUL as \u0000: always valid JSON.
      const compact = JSON.stringify(value) ?? 'null'
      const payload = plan.style === 'compact'
        ? compact
        : plan.style === 'pretty'
          ? JSON.stringify(value, null, 2) ?? 'null'
          : compact.replace(/[\u007f-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
      return { payload, json: { value } }
    }
  }
}

function tagField (plan: TagPlan, url: string, context: RequestContext): string {
  switch (plan.kind) {
    case 'star': return '*'
    case 'made up': return `${plan.weak ? 'W/' : ''}"${plan.tag}"`
    case 'garbage': return plan.text
    case 'list': return plan.tags.map((tag) => tagField(tag, url, context)).join(', ')
    case 'answered': {
      const answered = plan.sameUrl ? context.etags.byUrl.get(url) ?? context.etags.all : context.etags.all
      // Nothing answered yet: a tag the app never made.
      const tag = answered.length === 0
        ? '"never-answered"'
        : answered[answered.length - 1 - plan.pick % answered.length]!
      return plan.weak && !tag.startsWith('W/') ? `W/${tag}` : tag
    }
  }
}

/** A plan as a failure report shows it: long strings cut to their start and length. */
export function describePlan (plan: RequestPlan): string {
  return JSON.stringify(plan, (_, value: unknown) => typeof value === 'string' && value.length > 60
    ? `${value.slice(0, 40)}…(${value.length} chars)`
    : value)
}
