import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { APP_SERVER, type Encoding } from '../product.ts'
import { writeCeilingBodies, type WrittenBody } from '../ceiling/bodies.ts'
import { startServer, type ServerProcess } from './processes.ts'
import { BASELINE_MODE, MODES, referencesWith, type Mode, type Reference } from '../scenarios.ts'

export const CEILING_SERVER = new URL('../ceiling/server.js', import.meta.url).pathname

/** The ceiling server's environment to run as `reference` on `bodies`. */
export function referenceEnv (
  reference: Reference,
  bodies: readonly WrittenBody[],
  redisUrl: string | undefined
): Record<string, string> {
  return {
    CEILING_KIND: reference.kind,
    CEILING_BODIES: JSON.stringify(bodies.map((body) => body.body)),
    ...(reference.needsRedis && { REDIS_URL: redisUrl! })
  }
}

/** Each mode's processes (one, or several sharing a Redis and the database), and each reference's. */
export type Servers = Map<string, ServerProcess[]>

export interface ServerSetup {
  modes: readonly Mode[]
  databaseUrl: string
  redisUrl: string | undefined
  /** The codings the ceiling sends the events list in. */
  encodings: readonly Encoding[]
}

/** The events list's bytes as the baseline serves them, and in each coding as the ceiling sends them. */
export interface EventsListBytes {
  identity: Buffer
  encoded: Partial<Record<Encoding, number>>
}

/** A page's identity bytes (fetch decodes whatever coding it was sent in). */
export async function identityBytes (url: string): Promise<Buffer> {
  return Buffer.from(await (await fetch(url)).arrayBuffer())
}

/**
 * Starts every mode's processes, then the references (the ceiling, the header ceiling, and with a
 * Redis the Redis peer) with the exact bytes the baseline serves for the events list, in every
 * coding, each representation made as the cache makes it. Whatever started is in `servers` even
 * when a later start fails, for the caller to stop.
 */
export async function startServers (servers: Servers, setup: ServerSetup): Promise<EventsListBytes> {
  for (const mode of setup.modes) {
    const env = serverEnv(mode, setup)
    const instances: ServerProcess[] = []
    servers.set(mode.name, instances)
    for (let i = 0; i < (mode.instances ?? 1); i++) instances.push(await startServer(APP_SERVER, env))
  }
  const baseline = servers.get(BASELINE_MODE)![0]!
  const identity = await identityBytes(`${baseline.url}/events?limit=100`)
  const directory = await mkdtemp(join(tmpdir(), 'eventcache-bench-'))
  try {
    const sources = [{ name: 'events', route: '/events', identity }]
    const written = await writeCeilingBodies(directory, sources, setup.encodings)
    // The ceiling server reads its bodies before it listens: the files can go once it does.
    for (const reference of referencesWith(setup.redisUrl !== undefined)) {
      const env = referenceEnv(reference, written, setup.redisUrl)
      servers.set(reference.name, [await startServer(CEILING_SERVER, env)])
    }
    return { identity, encoded: Object.fromEntries(written.map((body) => [body.accepted, body.bytes])) }
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}

export async function stopServers (servers: Servers): Promise<void> {
  for (const instances of servers.values()) for (const server of instances) await server.stop()
}

export function serverEnv (
  mode: Mode,
  { databaseUrl, redisUrl }: Pick<ServerSetup, 'databaseUrl' | 'redisUrl'>
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    PUBLIC_URL: 'http://bench.local',
    ...mode.env,
    // One load generator is one client IP: the write limit would turn the mix's writes into 429s.
    RATE_LIMIT_WRITES: '1000000000',
    ...(mode.needsRedis && {
      REDIS_URL: redisUrl!,
      CACHE_PREFIX: `bench-${process.pid}-${MODES.indexOf(mode)}-${Date.now()}`
    })
  }
}
