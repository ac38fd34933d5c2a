import { STATUS_CODES } from 'node:http'
import type { ErrorObject } from 'ajv'
import type { SchemaErrorDataVar, SchemaErrorFormatter } from 'fastify/types/schema.js'
import { STORABLE_TEXT } from './schemas/common.ts'
import { DATE_RULES } from './storable-dates.ts'

export interface HttpError extends Error {
  statusCode: number
  code?: string
}

export function httpError (statusCode: number, message: string, code?: string): HttpError {
  return Object.assign(new Error(message), { statusCode, ...(code && { code }) })
}

export function notFound (resource: 'event' | 'guest', id: number): HttpError {
  return httpError(404, `${resource} ${id} not found`, 'EC_NOT_FOUND')
}

/** Fastify's error shape: `{ statusCode, code, error, message }`. */
export function errorBody (statusCode: number, message: string, code?: string) {
  return { statusCode, ...(code && { code }), error: STATUS_CODES[statusCode] ?? 'Error', message }
}

/**
 * Validation messages that always name the field, one clause per field. Ajv's own wording is kept,
 * except where it leaves the field out (an unknown property) or repeats it once per alternative
 * (a value that matches none of an `anyOf`).
 */
export const formatSchemaErrors: SchemaErrorFormatter = (errors, dataVar: SchemaErrorDataVar) => {
  const clauses = new Map<string, string>()
  for (const error of errors) {
    const path = `${dataVar}${error.instancePath}`
    if (error.keyword === 'additionalProperties') {
      const property = String(error.params.additionalProperty)
      clauses.set(`${path}/${property}`, `${path}/${property} is not allowed`)
    } else if (error.keyword === 'anyOf') {
      const alternatives = errors
        .filter((other) => other.instancePath === error.instancePath &&
          other.schemaPath.startsWith(error.schemaPath.replace(/anyOf$/, 'anyOf/')))
        .map(messageOf)
      clauses.set(path, `${path} ${alternatives.join(' or ')}`)
    } else if (!clauses.has(path)) {
      clauses.set(path, `${path} ${messageOf(error)}`)
    }
  }
  return new Error([...clauses.values()].join(', '))
}

/** Ajv's message, or what the rule means where Ajv would quote a pattern or a format's name. */
function messageOf (error: ErrorObject): string {
  if (error.keyword === 'pattern' && error.params.pattern === STORABLE_TEXT) {
    return 'must not contain U+0000 (NUL) or an unpaired surrogate (\\ud800 to \\udfff)'
  }
  if (error.keyword === 'format' && error.params.format in DATE_RULES) {
    return DATE_RULES[error.params.format as keyof typeof DATE_RULES]
  }
  return error.message ?? 'is invalid'
}

/**
 * PostgreSQL cannot be reached right now (no connection to be had, or the connection died under
 * the query), as opposed to a query that failed. Clients should retry: it maps to 503.
 */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError'
  constructor (cause: unknown) {
    super(`database unavailable: ${(cause as Error).message}`, { cause })
  }
}

/**
 * The connection was lost while COMMIT was on its way: the transaction may or may not have
 * committed. `result` is what the transaction's statements returned, so a caller can act on
 * what the write changed (invalidate it) before answering 503.
 */
export class CommitOutcomeUnknownError extends DatabaseUnavailableError {
  override name = 'CommitOutcomeUnknownError'
  readonly result: unknown
  constructor (cause: unknown, result: unknown) {
    super(cause)
    this.result = result
  }
}

/**
 * Whether an error raised by a query means the connection itself is gone: a network error or
 * client-side timeout (no `severity`: the server never answered), or the server ending the
 * session (57P01..57P03 shutdowns, 08xxx connection exceptions). The app's own refusals (an
 * HttpError, such as a failed precondition thrown inside a transaction) say nothing of it.
 */
export function isConnectionLost (error: unknown): boolean {
  const { code, severity, statusCode } = error as { code?: string, severity?: string, statusCode?: number }
  if (statusCode !== undefined) return false
  if (severity === undefined) return true
  return code !== undefined && (/^57P0[1-3]$/.test(code) || code.startsWith('08'))
}

/**
 * A PostgreSQL data exception (SQLSTATE class 22: a value it cannot store) raised by a write comes
 * from the client's input, not from a fault of the server: a 400, naming the body's field whose
 * value PostgreSQL's message quotes where there is one. The schemas refuse such values first; this
 * is the net under them. Anything else, and any error of a read, is not the client's.
 */
export function refusedInput (error: unknown, method: string, body: unknown): HttpError | undefined {
  const { code, severity, message } = error as { code?: unknown, severity?: unknown, message?: unknown }
  if (severity === undefined || typeof code !== 'string' || !code.startsWith('22')) return undefined
  if (method === 'GET' || method === 'HEAD') return undefined
  const said = String(message)
  const fields = typeof body === 'object' && body !== null ? Object.entries(body) : []
  const field = fields.find(([, value]) => typeof value === 'string' && value !== '' && said.includes(value))?.[0]
  return httpError(400, `${field === undefined ? 'body' : `body/${field}`} cannot be stored: ${said}`, 'EC_UNSTORABLE')
}
