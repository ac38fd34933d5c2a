import { once } from 'node:events'
import Fastify from 'fastify'
import type pg from 'pg'
import pino from 'pino'
import t from 'tap'
import { loadConfig } from '../src/config.ts'
import { loggerOptions, serializeError } from '../src/logger.ts'
import { serverUrl, testPool, withClient } from './support/database.ts'

type Logger = Pick<pino.BaseLogger, 'warn' | 'error'>

/** Both loggers the service has: the app's (through Fastify) and the cluster primary's (pino itself). */
function loggers (): Array<{ name: string, log: Logger, lines: string[] }> {
  const config = loadConfig({})
  const make = (name: string, build: (options: ReturnType<typeof loggerOptions>) => Logger) => {
    const lines: string[] = []
    return { name, log: build(loggerOptions(config, { write: (line) => { lines.push(line) } })), lines }
  }
  return [
    make('the app\'s', (options) => Fastify({ logger: options }).log),
    make('the primary\'s', (options) => pino(options, options.stream))
  ]
}

t.test('a logged pg error keeps its message and code, and nothing of the client it carries', async (t) => {
  const url = await serverUrl()
  // The real thing: when an idle client's session is terminated, pg-pool hands on the error with the client
  // attached (`err.client`), connection parameters and backend cancel key included.
  const pool = testPool(t, { connectionString: url, max: 1, application_name: 'eventcache-log-test' })
  const client = await pool.connect()
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  client.release()
  const lost = once(pool, 'error')
  await withClient(url, (admin) => admin.query('SELECT pg_terminate_backend($1)', [pid]))
  const [error] = await lost as [Error & { code: string, client?: pg.Client & { processID?: number } }]
  t.equal(error.client?.processID, pid, 'the error carries the client')

  for (const { name, log, lines } of loggers()) {
    log.warn({ err: error }, 'idle PostgreSQL client lost its connection')
    log.error(error)
    t.equal(lines.length, 2, `${name} logger wrote both lines`)
    for (const line of lines) {
      const { err } = JSON.parse(line) as { err: Record<string, unknown> }
      t.match(err, { type: 'DatabaseError', message: /^terminating connection/, code: '57P01', stack: String })
      t.same(Object.keys(err).sort(), ['code', 'message', 'stack', 'type'], `${name}: only what says what failed`)
      for (const secret of ['processID', 'secretKey', 'connectionParameters', '"port":', 'eventcache-log-test']) {
        t.notOk(line.includes(secret), `${name}: no ${secret} in the line`)
      }
    }
  }
})

t.test('the serializer follows causes and aggregated errors, keeping the same fields of each', async (t) => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
    code: 'ECONNREFUSED',
    client: { secretKey: 42 }
  })
  const aggregate = Object.assign(new AggregateError([refused], ''), { code: 'ECONNREFUSED' })
  const error = new Error('could not connect', { cause: aggregate })
  const serialized = serializeError(error)
  t.match(serialized, {
    type: 'Error',
    message: 'could not connect',
    cause: {
      type: 'AggregateError',
      message: '',
      code: 'ECONNREFUSED',
      errors: [{ type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' }]
    }
  })
  t.notMatch(JSON.stringify(serialized), /secretKey/)
  t.equal(serializeError('not an error'), 'not an error', 'what is not an error is left as it is')

  const circular: Error & { cause?: unknown } = new Error('loop')
  circular.cause = circular
  t.doesNotThrow(() => JSON.stringify(serializeError(circular)), 'a circular cause ends')
})
