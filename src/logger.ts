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
    ...(logStream && { stream: logStream }),
    ...(pretty && { transport: { target: 'pino-pretty' } })
  }
}
