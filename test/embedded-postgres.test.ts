import { chmod, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startEmbeddedPostgres, stopEmbeddedPostgres } from '../src/db/embedded-postgres.ts'
import { withClient } from './helper.ts'

t.test('embedded PostgreSQL initialises, serves, is reused while running, and stops', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'eventcache-embedded-'))
  await chmod(root, 0o755)
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const dataDir = join(root, 'nested', 'postgres')
  const messages: string[] = []

  const first = await startEmbeddedPostgres(dataDir, (message) => messages.push(message))
  t.teardown(() => stopEmbeddedPostgres(dataDir))
  t.match(first.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)
  t.match(messages.join('\n'), /initialising embedded PostgreSQL/)
  t.equal((await stat(dataDir)).mode & 0o777, 0o700, 'the data directory is private')
  const version = await withClient(first.url, async (client) => (await client.query('SHOW server_version')).rows[0].server_version)
  t.match(version, /^\d+\.\d+/)

  const second = await startEmbeddedPostgres(dataDir)
  t.equal(second.url, first.url, 'a server already running on the directory is reused')
  await second.stop()
  t.equal(await withClient(first.url, async (client) => (await client.query('SELECT 1 AS one')).rows[0].one), 1, 'stopping a reused server leaves it running')

  await first.stop()
  await t.rejects(withClient(first.url, (client) => client.query('SELECT 1')), 'the owner stops it')

  const restarted = await startEmbeddedPostgres(dataDir, (message) => messages.push(message))
  t.equal(messages.filter((message) => message.includes('initialising')).length, 1, 'an initialised directory is not initialised again')
  await stopEmbeddedPostgres(dataDir)
  await t.rejects(withClient(restarted.url, (client) => client.query('SELECT 1')), 'stopEmbeddedPostgres stops a server by its directory')
})
