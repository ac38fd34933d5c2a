// The OpenAPI document as a test reads it: its operations, what each one may answer, and a check of
// one answer against it. Only the parts of OpenAPI 3.0 that @fastify/swagger emits are read.
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { Schema } from './schema-arbitraries.ts'

export interface Parameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema: Schema
}

export interface DocumentedResponse {
  description?: string
  headers?: Record<string, { schema?: Schema, required?: boolean }>
  content?: Record<string, { schema?: Schema }>
}

interface OperationObject {
  parameters?: Parameter[]
  requestBody?: { required?: boolean, content: Record<string, { schema: Schema }> }
  responses: Record<string, DocumentedResponse>
}

export interface OpenApiDocument {
  openapi: string
  paths: Record<string, Record<string, OperationObject>>
}

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
export type HttpMethod = typeof HTTP_METHODS[number]

/** One path × method of the document, its parts resolved. */
export interface Operation {
  /** `GET /events/{id}`: the name a failure or a figure goes by. */
  name: string
  method: HttpMethod
  /** The path template, `{id}` style. */
  path: string
  pathParameters: Parameter[]
  queryParameters: Parameter[]
  /** The JSON body schema, when the operation takes a body. */
  body: { schema: Schema, required: boolean, mediaTypes: string[] } | undefined
  responses: Record<string, DocumentedResponse>
}

/** Every operation the document lists. */
export function operationsOf (document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) => Object.entries(item)
    .filter(([key]) => HTTP_METHODS.includes(key.toUpperCase() as HttpMethod))
    .map(([key, operation]): Operation => {
      const method = key.toUpperCase() as HttpMethod
      const parameters = operation.parameters ?? []
      const content = operation.requestBody?.content
      return {
        name: `${method} ${path}`,
        method,
        path,
        pathParameters: parameters.filter((parameter) => parameter.in === 'path'),
        queryParameters: parameters.filter((parameter) => parameter.in === 'query'),
        body: content && {
          schema: Object.values(content)[0]!.schema,
          required: operation.requestBody?.required === true,
          mediaTypes: Object.keys(content)
        },
        responses: operation.responses
      }
    }))
}

/**
 * The documented answer for `status`: its own key, else its range (`4XX`), else `default`
 * (OpenAPI 3.0 §4.7.16: the most specific key wins).
 */
export function documentedResponse (operation: Operation, status: number): DocumentedResponse | undefined {
  const { responses } = operation
  return responses[String(status)] ?? responses[`${Math.floor(status / 100)}XX`] ?? responses.default
}

/** The route paths of `printRoutes({ commonPrefix: false })` with their methods, `:id` as `{id}`. */
export function servedOperations (printed: string): Array<{ method: string, path: string }> {
  const stack: string[] = []
  const served: Array<{ method: string, path: string }> = []
  for (const line of printed.split('\n')) {
    const match = /^([│ ├└─]*)(\S.*) \(([A-Z, ]+|-)\)$/.exec(line)
    if (!match) continue
    // Each level of the tree is drawn four characters wide, the first one too.
    stack.length = match[1]!.length / 4 - 1
    stack.push(match[2]!)
    const path = stack.join('').replace(/:(\w+)/g, '{$1}')
    // `-`: a node of the tree that only joins its children's paths.
    if (match[3] === '-') continue
    for (const method of match[3]!.split(', ')) served.push({ method, path })
  }
  return served
}

/**
 * Ajv for response bodies and request parts as the document states them: OpenAPI's `nullable`
 * and annotations (`description`, `example`, `x-…`) are not JSON Schema keywords Ajv knows in
 * strict mode, so strict mode is off; every error is reported, to say what is wrong at once.
 */
export function documentAjv (options: { coerceTypes?: boolean } = {}): Ajv {
  return addFormats.default(new Ajv({ strict: false, allErrors: true, coerceTypes: options.coerceTypes ?? false }))
}

/** A compiled validator per schema object, so a schema seen again is not compiled again. */
export function validatorCache (ajv: Ajv): (schema: Schema) => ValidateFunction {
  const compiled = new WeakMap<object, ValidateFunction>()
  return (schema) => {
    let validate = compiled.get(schema)
    if (validate === undefined) {
      validate = ajv.compile(schema as object)
      compiled.set(schema, validate)
    }
    return validate
  }
}

/** The bytes of a body as sent before its Content-Encoding was applied (RFC 9110 §8.4). */
export function decodedBody (payload: Buffer, contentEncoding: string | undefined): Buffer {
  const codings = (contentEncoding ?? '').split(',').map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity')
  // Codings are listed in the order they were applied: undo the last first.
  return codings.reduceRight((bytes, coding) => {
    switch (coding) {
      case 'br': return brotliDecompressSync(bytes)
      case 'gzip': case 'x-gzip': return gunzipSync(bytes)
      case 'deflate': return inflateSync(bytes)
      default: throw new Error(`a Content-Encoding no client can undo: ${coding}`)
    }
  }, payload)
}

/**
 * Whether a request's Accept-Encoding lets the server answer in `coding` (RFC 9110 §12.5.3): any
 * coding when the header is absent; else the coding, or `*` when the coding is not named, with a
 * q-value other than 0. A malformed q-value is read as acceptable: this is an oracle for what must
 * never be sent, not a negotiation.
 */
export function acceptsCoding (acceptEncoding: string | undefined, coding: string): boolean {
  if (acceptEncoding === undefined) return true
  const names = coding === 'gzip' ? ['gzip', 'x-gzip'] : [coding]
  const entries = acceptEncoding.split(',').map((entry) => {
    const [name = '', ...parameters] = entry.split(';').map((part) => part.trim().toLowerCase())
    const q = parameters.find((parameter) => parameter.startsWith('q='))
    return { name, refused: q !== undefined && /^q=0(\.0{0,3})?$/.test(q) }
  })
  const named = entries.filter((entry) => names.includes(entry.name))
  if (named.length > 0) return named.some((entry) => !entry.refused)
  return entries.some((entry) => entry.name === '*' && !entry.refused)
}

/**
 * The entity tags an If-None-Match or If-Match field lists, or `*` (RFC 9110 §13.1.1); undefined
 * for a field that is neither, which the RFC leaves to the server. Empty list elements are allowed
 * (RFC 9110 §5.6.1).
 */
export function listedTags (field: string): string[] | '*' | undefined {
  if (field.trim() === '*') return '*'
  const tag = /(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"/g
  const element = `[ \\t]*(?:${tag.source})?[ \\t]*`
  const tags = [...field.matchAll(tag)].map(([one]) => one)
  return new RegExp(`^${element}(?:,${element})*$`).test(field) && tags.length > 0 ? tags : undefined
}

/** RFC 9110 §8.8.3.2: weak comparison, the one If-None-Match uses. */
export function weaklyMatches (a: string, b: string): boolean {
  return a.replace(/^W\//, '') === b.replace(/^W\//, '')
}
