import type { LoggerOptions } from 'pino'
import type { Config } from './config.ts'

/** Where log lines go instead of stdout (tests read them). */
export interface LogStream { write: (line: string) => void }

/**
 * pino settings shared by the app's logger (through Fastify) and the cluster primary's, so every
 * line of one deployment has the same shape: JSON, pretty only on a terminal outside production.
 */
export function loggerOptions (config: Config, logStream?: LogStream): LoggerOptions & { stream?: LogStream } {
  const pretty = logStream === undefined && process.stdout.isTTY && config.NODE_ENV !== 'production'
  return {
    level: config.LOG_LEVEL,
    redact: ['req.headers.authorization', 'req.headers.cookie'],
    serializers: { err: serializeError },
    ...(logStream && { stream: logStream }),
    ...(pretty && { transport: { target: 'pino-pretty' } })
  }
}

/** What a log line keeps of an error. */
export interface SerializedError {
  type: string
  message: string
  code?: string | number
  stack?: string
  cause?: unknown
  /** An AggregateError's errors (Node's connect gives one per address tried, with an empty message). */
  errors?: unknown[]
}

/** How deep causes and aggregated errors are followed. */
const MAX_DEPTH = 5

/**
 * The `err` serializer of every logger. pino's own (pino.stdSerializers.err) copies every enumerable property of
 * an error, and some carry far more than the error: pg-pool sets `err.client` on an idle client's error, and a pg
 * Client holds its connection parameters and its backend's cancel key (`processID`, `secretKey`). This one keeps
 * what says what failed and where (type, message, code, stack), and the same of the error's `cause` and, for an
 * AggregateError, of each of its `errors`. A value that is not an error is logged as it is, as pino's does.
 */
export function serializeError (value: unknown): unknown {
  return serialize(value, 0)
}

function serialize (value: unknown, depth: number): unknown {
  if (!isErrorLike(value)) return value
  const error = value as Error & { code?: unknown, errors?: unknown }
  const serialized: SerializedError = {
    type: typeof error.constructor === 'function' ? error.constructor.name : String(error.name),
    message: error.message
  }
  if (typeof error.code === 'string' || typeof error.code === 'number') serialized.code = error.code
  if (typeof error.stack === 'string') serialized.stack = error.stack
  if (depth < MAX_DEPTH) {
    if (error.cause !== undefined) serialized.cause = serialize(error.cause, depth + 1)
    if (Array.isArray(error.errors)) serialized.errors = error.errors.map((each) => serialize(each, depth + 1))
  }
  return serialized
}

/** What pino takes for an error: anything with a string `message`. */
function isErrorLike (value: unknown): value is { message: string } {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string'
}
