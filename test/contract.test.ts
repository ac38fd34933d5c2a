// The contract test: the app against its own OpenAPI document. Every operation the document lists
// is driven with requests drawn from the document's schemas (valid ones, and values at the edges of
// what JSON, UTF-8 and PostgreSQL take), with varied headers and raw bodies, and every answer is
// checked against what the document says that operation answers. CONTRACT_RUNS sets the requests
// per operation; CONTRACT_SEED replays a run.
import type { ValidateFunction } from 'ajv'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { BODY_LIMIT } from '../src/app.ts'
import { buildTestApp, type TestApp } from './support/app.ts'
import { cacheEnv } from './support/cache-modes.ts'
import {
  type ConcreteRequest,
  concreteRequest,
  describePlan,
  type RequestContext,
  type RequestPlan,
  requestPlans
} from './support/contract-requests.ts'
import { databaseState } from './support/database.ts'
import { eventInput } from './support/fixtures.ts'
import {
  acceptsCoding,
  decodedBody,
  documentAjv,
  documentedResponse,
  type HttpMethod,
  listedTags,
  type OpenApiDocument,
  type Operation,
  type Parameter,
  operationsOf,
  servedOperations,
  validatorCache,
  weaklyMatches
} from './support/openapi.ts'
import type { Schema } from './support/schema-arbitraries.ts'

/** Requests per operation: the default keeps the file within about half a minute on two cores. */
const RUNS = Number(process.env.CONTRACT_RUNS ?? 100)
const SEED = Number(process.env.CONTRACT_SEED ?? Math.floor(Math.random() * 2 ** 31))
const API_KEY = 'contract-test-key-0123456789'
const WRITES = new Set<string>(['POST', 'PUT', 'PATCH', 'DELETE'])

type Response = Awaited<ReturnType<TestApp['inject']>>

t.comment(`contract: CONTRACT_RUNS=${RUNS} CONTRACT_SEED=${SEED} (the seed replays this run's requests)`)

// First what no document can excuse, so that a stale document (a status it does not list yet)
// hides no 5xx, no write that a refusal let through, and no answer HTTP itself forbids.
t.test('no operation of the OpenAPI document answers 5xx, or as HTTP forbids; a refused write changes nothing',
  async (t) => {
    const app = await buildTestApp(t, { ...await cacheEnv(t, 'redis'), RATE_LIMIT_WRITES: '1000000' })
    await driveDocument(t, app, { runs: RUNS, apiKey: undefined, httpOnly: true })
  })

t.test('every operation of the OpenAPI document answers as the document says', async (t) => {
  const app = await buildTestApp(t, { ...await cacheEnv(t, 'redis'), RATE_LIMIT_WRITES: '1000000' })
  await driveDocument(t, app, { runs: RUNS, apiKey: undefined })
})

t.test('with API keys and a write limit of 3: 401 and 429 as the document says', async (t) => {
  const app = await buildTestApp(t, { ...await cacheEnv(t, 'redis'), API_KEYS: API_KEY, RATE_LIMIT_WRITES: '3' })
  await driveDocument(t, app, { runs: Math.max(5, Math.ceil(RUNS / 4)), apiKey: API_KEY })
})

t.test('a method the document does not list for a path is a 405 with Allow, and changes nothing', async (t) => {
  const app = await buildTestApp(t, { ...await cacheEnv(t, 'redis'), RATE_LIMIT_WRITES: '1000000' })
  const document = await openApiDocument(app)
  await createRows(app, undefined)
  const before = await databaseState(app)
  const listed = new Map<string, Set<string>>()
  for (const { path, method } of operationsOf(document)) listed.set(path, (listed.get(path) ?? new Set()).add(method))
  for (const [path, methods] of listed) {
    const allow = new Set([...methods, ...(methods.has('GET') ? ['HEAD'] : []), 'OPTIONS'])
    const urls = new Set([before.ids.events[0], 2 ** 31 - 1].map((id) => path.replace(/\{\w+\}/g, String(id))))
    for (const url of urls) {
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
        if (methods.has(method)) continue
        const response = await app.inject({ method, url })
        const expected = method === 'OPTIONS' ? 204 : 405
        t.equal(response.statusCode, expected, `${method} ${url}: ${expected}`)
        const allowed = new Set(String(response.headers.allow).split(', '))
        t.same(allowed, allow, `${method} ${url}: Allow lists ${[...allow].join(', ')}`)
      }
    }
  }
  t.equal((await databaseState(app)).digest, before.digest, 'no row changed')
})

/**
 * Routes the app serves that the document does not list, and why. They are driven all the same,
 * with what can be asserted without a document: no 5xx, a JSON body that parses, no coding the
 * client refused, and no row changed by a refused write.
 */
const OUTSIDE_THE_DOCUMENT: Record<string, string> = {
  'GET /metrics': 'fastify-metrics hides its route from OpenAPI; it answers Prometheus text',
  'GET /_cache': 'the cache panel registers before @fastify/swagger (src/app.ts), so the document never hears of it',
  'GET /_cache.json': 'the cache panel, as above',
  'POST /_cache/flush': 'the cache panel, as above',
  'GET /docs': '@fastify/swagger-ui hides its own routes: the document and its UI',
  'GET /docs/json': '@fastify/swagger-ui, as above',
  'GET /docs/yaml': '@fastify/swagger-ui, as above',
  'GET /docs/static/index.html': '@fastify/swagger-ui, as above',
  'GET /docs/static/swagger-initializer.js': '@fastify/swagger-ui, as above',
  'GET /docs*': '@fastify/swagger-ui\'s static files, any path below /docs/'
}

t.test('every route served is in the document or named here with its reason; none answers 5xx', async (t) => {
  const app = await buildTestApp(t, { ...await cacheEnv(t, 'redis'), RATE_LIMIT_WRITES: '1000000' })
  const documented = new Set(operationsOf(await openApiDocument(app)).map(({ name }) => name))
  // Fastify answers HEAD wherever it serves GET (exposeHeadRoutes): not an operation of its own.
  const served = servedOperations(app.printRoutes({ commonPrefix: false }))
    .filter(({ method }) => method !== 'HEAD')
  const undocumented = served.filter(({ method, path }) => !documented.has(`${method} ${path}`))
  for (const { method, path } of undocumented) {
    t.ok(OUTSIDE_THE_DOCUMENT[`${method} ${path}`], `${method} ${path} is in the document, or named with a reason`)
  }
  for (const name of Object.keys(OUTSIDE_THE_DOCUMENT)) {
    t.ok(undocumented.some(({ method, path }) => `${method} ${path}` === name), `${name} is served, and not documented`)
  }
  await createRows(app, undefined)
  for (const { method, path } of undocumented) {
    await t.test(`${method} ${path}`, async (t) => {
      await fc.assert(fc.asyncProperty(toolingRequests(method, path), async (request) => {
        const before = WRITES.has(method) ? await databaseState(app) : undefined
        const response = await app.inject(request)
        const problems = [...serverFault(response), ...codingProblems(request.headers, response)]
        if (problems.length === 0 && /^application\/json/.test(header(response, 'content-type') ?? '')) {
          if (!parses(bodyText(response))) problems.push('a JSON Content-Type with a body that is not JSON')
        }
        if (before && response.statusCode >= 400 && response.statusCode < 500) {
          if ((await databaseState(app)).digest !== before.digest) problems.push('a refused write changed rows')
        }
        if (problems.length > 0) throw new Error(report(request, response, problems))
      }), { numRuns: Math.max(5, Math.ceil(RUNS / 4)), seed: SEED })
      t.pass('no 5xx')
    })
  }
})

/** Requests for a route outside the document: query, headers and (for a write) bodies of every kind. */
function toolingRequests (method: string, path: string) {
  const text = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('', '%00', '%', '..', 'GET /events', 'x'.repeat(400))
  )
  const tails = fc.constantFrom('', 'static/index.html', '../package.json', '%2e%2e/x', 'json', 'x/y')
  return fc.record({
    tail: path.endsWith('*') ? tails : fc.constant(''),
    query: fc.dictionary(fc.constantFrom('token', 'key', 'route', 'x'), text, { maxKeys: 2 }),
    route: fc.oneof(
      fc.constantFrom('GET /events', 'GET /events/:id', 'GET /guests', ''),
      fc.string({ maxLength: 110 }),
      fc.constant(null)
    ),
    contentType: fc.constantFrom('application/json', 'text/plain', undefined),
    acceptEncoding: fc.constantFrom('br', 'gzip', 'identity;q=0', '*;q=0', 'garbage', undefined)
  }).map(({ tail, query, route, contentType, acceptEncoding }) => {
    const search = new URLSearchParams(query).toString()
    const url = `${path.replace(/\*$/, '/')}${tail}${search === '' ? '' : `?${search}`}`.replace('//', '/')
    const headers: Record<string, string> = {
      ...(acceptEncoding && { 'accept-encoding': acceptEncoding }),
      ...(WRITES.has(method) && contentType && { 'content-type': contentType })
    }
    const payload = WRITES.has(method) ? JSON.stringify(route === null ? { other: 1 } : { route }) : undefined
    return { method: method as HttpMethod, url, headers, ...(payload !== undefined && { payload }) }
  })
}

interface DriveOptions {
  runs: number
  apiKey: string | undefined
  /** Only what a stale document cannot excuse: 5xx, rows changed by a refused write, HTTP's own rules. */
  httpOnly?: boolean
}

/** Every operation of the app's own document, `runs` requests each, every answer checked against it. */
async function driveDocument (t: Test, app: TestApp, { runs, apiKey, httpOnly = false }: DriveOptions) {
  const started = performance.now()
  const operations = operationsOf(await openApiDocument(app))
  t.ok(operations.length > 0, `the document lists ${operations.length} operations`)
  const readablePaths = new Set(operations.filter(({ method }) => method === 'GET').map(({ path }) => path))
  const responseSchemas = validatorCache(documentAjv())
  const context: RequestContext = { ids: {}, etags: { byUrl: new Map(), all: [] }, apiKey }
  await createRows(app, apiKey)
  // One subtest per operation: a counterexample in one leaves the others driven all the same.
  for (const [index, operation] of operations.entries()) {
    await t.test(operation.name, async (t) => {
      const statuses = new Map<number, number>()
      const property = fc.asyncProperty(requestPlans(operation, { bodyLimit: BODY_LIMIT }), async (plan) => {
        let before = await databaseState(app)
        if (before.ids.events.length < 3 || before.ids.guests.length < 3) {
          // DELETEs drain the rows that the plans' existing ids name: make some again.
          await createRows(app, apiKey)
          before = await databaseState(app)
        }
        context.ids = before.ids
        const request = concreteRequest(operation, plan, context)
        const current = !httpOnly && hasPreconditions(operation, request, readablePaths)
          ? await currentRepresentation(app, request)
          : undefined
        const { payload, ...rest } = request
        const response = await app.inject({ ...rest, ...(payload !== undefined && { payload }) })
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
        remember(context, request.url, response)
        const problems = [...serverFault(response), ...await httpProblems(app, operation, request, response)]
        if (!httpOnly) problems.push(...documentProblems(operation, request, response, responseSchemas))
        if (current) problems.push(...preconditionProblems(request, response, current))
        if (WRITES.has(operation.method) && response.statusCode >= 400 && response.statusCode < 500) {
          const after = await databaseState(app)
          if (after.digest !== before.digest) problems.push(`a refused write (${response.statusCode}) changed rows`)
        }
        if (problems.length > 0) throw new Error(report(request, response, problems, plan))
      })
      await fc.assert(property, { numRuns: runs, seed: SEED + index })
      const seen = [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ')
      t.pass(`${runs} requests, ${httpOnly ? 'none against HTTP' : 'answered as documented'} (${seen})`)
    })
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  t.comment(`${operations.length} operations × ${runs} requests in ${seconds} s`)
}

async function openApiDocument (app: TestApp): Promise<OpenApiDocument> {
  const response = await app.inject({ method: 'GET', url: '/docs/json' })
  if (response.statusCode !== 200) throw new Error(`GET /docs/json answered ${response.statusCode}`)
  return response.json<OpenApiDocument>()
}

/** Three events and three guests (the plans' existing ids name them); a refused write (a 429) is left at that. */
async function createRows (app: TestApp, apiKey: string | undefined): Promise<void> {
  const headers = apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }
  const events: number[] = []
  for (let n = 0; n < 3; n++) {
    const payload = eventInput({ name: `event ${n}` })
    const response = await app.inject({ method: 'POST', url: '/events', headers, payload })
    if (response.statusCode === 201) events.push(response.json<{ id: number }>().id)
  }
  for (const [n, eventId] of events.entries()) {
    const payload = { event_id: eventId, name: `guest ${n}`, email: `guest${n}@example.com` }
    await app.inject({ method: 'POST', url: '/guests', headers, payload })
  }
}

/** Keeps the ETags answered, for later requests to name in If-None-Match and If-Match. */
function remember (context: RequestContext, url: string, response: Response): void {
  const etag = header(response, 'etag')
  if (etag === undefined) return
  const path = url.split('?')[0]!
  for (const key of new Set([url, path])) {
    const answered = context.etags.byUrl.get(key) ?? []
    context.etags.byUrl.set(key, [...answered.slice(-7), etag])
  }
  context.etags.all = [...context.etags.all.slice(-63), etag]
}

/** Headers the document lists that must then be there: what a client acts on. */
const PRESENT_WHEN_DOCUMENTED = ['etag', 'location', 'retry-after', 'x-cache']

/** What is wrong with `response` by HTTP's own rules, whatever the document says. */
async function httpProblems (
  app: TestApp,
  operation: Operation,
  request: ConcreteRequest,
  response: Response
): Promise<string[]> {
  const problems = codingProblems(request.headers, response)
  try {
    decodedBody(response.rawPayload, header(response, 'content-encoding'))
  } catch (error) {
    problems.push(`the body does not decode by its Content-Encoding: ${(error as Error).message}`)
  }
  // RFC 9110 §13.1.2: If-None-Match naming the representation selected makes a GET a 304, not a 200.
  const ifNoneMatch = request.headers['if-none-match']
  const etag = header(response, 'etag')
  if (operation.method === 'GET' && response.statusCode === 200 && ifNoneMatch !== undefined && etag !== undefined) {
    const tags = listedTags(ifNoneMatch)
    if (tags === '*' || tags?.some((tag) => weaklyMatches(tag, etag))) {
      problems.push(`200, not 304, though If-None-Match ${ifNoneMatch} names its ETag ${etag}`)
    }
  }
  if (response.statusCode === 304) problems.push(...await notModifiedProblems(app, request))
  return problems
}

/** What is wrong with `response` by the document's description of `operation`. */
function documentProblems (
  operation: Operation,
  request: ConcreteRequest,
  response: Response,
  validator: (schema: Schema) => ValidateFunction
): string[] {
  const problems = requestRules(operation, request, response)
  const status = response.statusCode
  const documented = documentedResponse(operation, status)
  if (documented === undefined) {
    const listed = Object.keys(operation.responses).join(', ')
    return [...problems, `${status} is not an answer the document lists (${listed})`]
  }
  let body: Buffer
  try {
    body = decodedBody(response.rawPayload, header(response, 'content-encoding'))
  } catch {
    return problems
  }
  const content = documented.content
  if (content === undefined) {
    if (body.length > 0) problems.push(`${status} has no body in the document, but ${body.length} bytes came`)
  } else {
    const mediaType = (header(response, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    const schema = content[mediaType]?.schema
    if (schema === undefined) {
      problems.push(`Content-Type ${mediaType || '(none)'} is not one the document lists for ${status}`)
    } else {
      problems.push(...schemaProblems(validator(schema), body, `the ${status} body`))
    }
  }
  for (const [name, { schema }] of Object.entries(documented.headers ?? {})) {
    const value = header(response, name)
    if (value === undefined) {
      if (PRESENT_WHEN_DOCUMENTED.includes(name)) problems.push(`no ${name} header, which the document lists`)
    } else if (schema && !validator(schema)(value)) {
      problems.push(`header ${name}: ${JSON.stringify(value)} is not what the document says`)
    }
  }
  return problems
}

function schemaProblems (validate: ValidateFunction, body: Buffer, what: string): string[] {
  const text = body.toString('utf8')
  if (!parses(text)) return [`${what} is not JSON: ${text.slice(0, 200)}`]
  return validate(JSON.parse(text)) ? [] : [`${what} is not what the document says: ${JSON.stringify(validate.errors)}`]
}

function parses (text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

function serverFault (response: Response): string[] {
  return response.statusCode >= 500 ? [`${response.statusCode}: a fault of the server`] : []
}

/** RFC 9110 §12.5.3: a response is never in a coding the request refused. */
function codingProblems (headers: Record<string, string>, response: Response): string[] {
  const coding = header(response, 'content-encoding')
  if (coding === undefined || coding === 'identity') return []
  return acceptsCoding(headers['accept-encoding'], coding)
    ? []
    : [`Content-Encoding ${coding} though Accept-Encoding was ${JSON.stringify(headers['accept-encoding'])}`]
}

/** What the document's request schemas say of this request's answer. */
function requestRules (operation: Operation, request: ConcreteRequest, response: Response): string[] {
  const problems: string[] = []
  const status = response.statusCode
  const validity = documentedValidity(operation, request)
  // What the document refuses, the app refuses: were it to take it, the document would be
  // narrower than the app, and a client built from it would never send what the app takes.
  if (typeof validity === 'string' && (status < 400 || status >= 500)) {
    problems.push(`${status} to a request the document calls invalid: ${validity}`)
  }
  // A body of the media type and schema the document gives is one the app takes in: its size is
  // within the limit, and its type one it parses.
  if (validity === true && (status === 413 || status === 415)) {
    problems.push(`${status} to a request the document calls valid`)
  }
  // docs/api.md: EC_UNSTORABLE is "a value PostgreSQL refuses that the schema let through", each one
  // a value the document calls valid and the app cannot take: the schemas must refuse it first.
  if (status === 400 && /"code":"EC_UNSTORABLE"/.test(response.body)) {
    problems.push('a value the document\'s schema accepts is refused as unstorable (EC_UNSTORABLE)')
  }
  return problems
}

const documentBodies = validatorCache(documentAjv())
// Parameters are text: a number in a URL is read from it, as the app's validation does.
const documentParameters = validatorCache(documentAjv({ coerceTypes: true }))

/**
 * What the document says of a request: true when its parameters and body are as the document
 * describes them, the reason when they are not, undefined where the document does not say (a
 * query sent unencoded or with a name twice, a charset other than UTF-8, a body where it names none).
 */
function documentedValidity (operation: Operation, request: ConcreteRequest): true | string | undefined {
  const { path, query } = request.parameters
  const inPath = operation.pathParameters
  const pathValues = Object.fromEntries(inPath.map(({ name }) => [name, path[name]]))
  if (!documentParameters(parametersSchema(inPath))(pathValues)) return `path ${JSON.stringify(path)}`
  const documented = query.filter(({ name }) => operation.queryParameters.some((parameter) => parameter.name === name))
  const names = documented.map(({ name }) => name)
  if (query.some(({ encoded }) => !encoded) || new Set(names).size < names.length) return undefined
  const queryValues = Object.fromEntries(documented.map(({ name, text }) => [name, text]))
  const querySchema = parametersSchema(operation.queryParameters)
  if (!documentParameters(querySchema)(queryValues)) return `query ${JSON.stringify(queryValues)}`
  if (operation.body === undefined) return request.payload === undefined ? true : undefined
  if (request.payload === undefined) return operation.body.required ? 'no body' : true
  const [mediaType = '', ...parameters] = (request.headers['content-type'] ?? '').split(';').map((part) => part.trim())
  if (!operation.body.mediaTypes.includes(mediaType.toLowerCase())) return `Content-Type ${mediaType || '(none)'}`
  const charset = parameters.find((parameter) => /^charset=/i.test(parameter))
  if (charset !== undefined && !/^charset="?utf-8"?$/i.test(charset)) return undefined
  if (request.json === undefined) return parses(request.payload) ? undefined : 'a body that is not JSON'
  return documentBodies(operation.body.schema)(request.json.value) ? true : 'a body its schema refuses'
}

/** The parameters of one place (path, query) as one object schema, each required one required. */
const parameterSchemas = new WeakMap<Parameter[], Schema>()
function parametersSchema (parameters: Parameter[]): Schema {
  let schema = parameterSchemas.get(parameters)
  if (schema === undefined) {
    schema = {
      type: 'object',
      properties: Object.fromEntries(parameters.map(({ name, schema }) => [name, schema])),
      required: parameters.filter(({ required }) => required === true).map(({ name }) => name)
    }
    parameterSchemas.set(parameters, schema)
  }
  return schema
}

/**
 * Whether a write's preconditions can be judged: the document says it answers 412 (so it evaluates
 * them), the request has one, and the document lists a GET of the same path to see the resource by.
 */
function hasPreconditions (operation: Operation, request: ConcreteRequest, readablePaths: Set<string>): boolean {
  const { headers } = request
  return WRITES.has(operation.method) && documentedResponse(operation, 412) !== undefined &&
    readablePaths.has(operation.path) && (headers['if-match'] !== undefined || headers['if-none-match'] !== undefined)
}

/** The resource a write names, as GETs of its path answer just before it. */
interface CurrentRepresentation {
  status: number
  /** The ETag of the representation a GET with the write's own Accept-Encoding selects. */
  selected: string | undefined
  /** The ETags of every coding of it. */
  all: string[]
}

async function currentRepresentation (app: TestApp, request: ConcreteRequest): Promise<CurrentRepresentation> {
  const url = request.url.split('?')[0]!
  const acceptEncoding = request.headers['accept-encoding']
  const headers = acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }
  const selected = await app.inject({ method: 'GET', url, headers })
  const all: string[] = []
  for (const coding of ['identity', 'gzip', 'br']) {
    const etag = header(await app.inject({ method: 'GET', url, headers: { 'accept-encoding': coding } }), 'etag')
    if (etag !== undefined) all.push(etag)
  }
  return { status: selected.statusCode, selected: header(selected, 'etag'), all }
}

/**
 * RFC 9110 §13.1.1, §13.1.2 and §13.2 for a write to a resource that exists: a 2xx never follows a
 * precondition that is false (If-Match naming no ETag of any coding of it by strong comparison, or
 * `*` in If-None-Match, or If-None-Match naming the selected representation's), and a 412 never
 * follows preconditions that all hold (If-Match `*` or naming the selected representation's ETag,
 * If-None-Match naming none of its codings). Which coding a write's precondition is held against is
 * the server's to choose, so only what holds or fails under every choice is judged.
 */
function preconditionProblems (request: ConcreteRequest, response: Response, current: CurrentRepresentation) {
  // §13.2.1: a 404 that the request would get anyway comes before any precondition.
  if (current.status !== 200 || current.selected === undefined) return []
  const { selected, all } = current
  const strongly = (a: string, b: string) => !a.startsWith('W/') && !b.startsWith('W/') && a === b
  const names = (tags: string[], etags: string[], match: typeof strongly) => {
    return tags.some((tag) => etags.some((etag) => match(tag, etag)))
  }
  const ifMatch = request.headers['if-match']
  const ifNoneMatch = request.headers['if-none-match']
  // undefined: a field the RFC does not define (neither `*` nor a list of tags), judged neither way.
  const matchTags = ifMatch === undefined ? undefined : listedTags(ifMatch)
  const noneTags = ifNoneMatch === undefined ? undefined : listedTags(ifNoneMatch)
  const ifMatchFails = Array.isArray(matchTags) && !names(matchTags, all, strongly)
  const ifMatchHolds = ifMatch === undefined || matchTags === '*' ||
    (Array.isArray(matchTags) && names(matchTags, [selected], strongly))
  const ifNoneMatchFails = noneTags === '*' || (Array.isArray(noneTags) && names(noneTags, [selected], weaklyMatches))
  const ifNoneMatchHolds = ifNoneMatch === undefined ||
    (Array.isArray(noneTags) && !names(noneTags, all, weaklyMatches))
  const status = response.statusCode
  if (status >= 200 && status < 300 && (ifMatchFails || ifNoneMatchFails)) {
    return [`${status} though a precondition is false (the resource's ETags: ${all.join(', ')})`]
  }
  if (status === 412 && ifMatchHolds && ifNoneMatchHolds) {
    return [`412 though every precondition holds (its ETag: ${selected})`]
  }
  return []
}

/**
 * RFC 9110 §13.1.2: 304 only when the representation the same GET would select exists and
 * If-None-Match names its ETag (a 404 has no representation to be unmodified).
 */
async function notModifiedProblems (app: TestApp, request: ConcreteRequest): Promise<string[]> {
  const { 'if-none-match': ifNoneMatch, 'if-match': _, ...headers } = request.headers
  if (ifNoneMatch === undefined) return ['304 to a request without If-None-Match']
  const unconditional = await app.inject({ method: request.method, url: request.url, headers })
  const etag = header(unconditional, 'etag')
  const tags = listedTags(ifNoneMatch)
  if (unconditional.statusCode !== 200) {
    return [`304, though the same GET without If-None-Match answers ${unconditional.statusCode}`]
  }
  // A field that is not a list of tags (`"a", *`) leaves the reading to the server: it must at least name the tag.
  const names = (tag: string) => tags === undefined
    ? ifNoneMatch.includes(tag.replace(/^W\//, '')) || ifNoneMatch.split(',').some((one) => one.trim() === '*')
    : tags === '*' || tags.some((listed) => weaklyMatches(listed, tag))
  if (etag === undefined || !names(etag)) {
    return [`304, though If-None-Match ${ifNoneMatch} does not name the ETag ${String(etag)} of the 200`]
  }
  return []
}

function header (response: Response, name: string): string | undefined {
  const value = response.headers[name]
  return value === undefined ? undefined : String(value)
}

/** A failure as a reader needs it: the request sent and the answer, cut where long. */
function report (
  request: { method: string, url: string, headers?: Record<string, string>, payload?: string },
  response: Response,
  problems: string[],
  plan?: RequestPlan
): string {
  const cut = (text: string | undefined) => text === undefined
    ? '(none)'
    : text.length > 300 ? `${text.slice(0, 300)}…(${text.length} chars)` : text
  return [
    ...problems.map((problem) => `- ${problem}`),
    `request: ${request.method} ${cut(request.url)}`,
    `  headers: ${JSON.stringify(request.headers ?? {})}`,
    `  body: ${cut(request.payload)}`,
    ...(plan ? [`  plan: ${cut(describePlan(plan))}`] : []),
    `response: ${response.statusCode} ${JSON.stringify(response.headers)}`,
    `  body: ${cut(bodyText(response))}`
  ].join('\n')
}

/** The body as text, decoded by its Content-Encoding where it can be. */
function bodyText (response: Response): string {
  try {
    return decodedBody(response.rawPayload, header(response, 'content-encoding')).toString('utf8')
  } catch {
    return response.body
  }
}
