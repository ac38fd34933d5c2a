import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import {
  EmbeddedPostgresError,
  relocatedDataDir,
  removeEmbeddedPostgres,
  startEmbeddedPostgres,
  stopEmbeddedPostgres
} from '../src/db/embedded-postgres.ts'
import { withClient } from './support/database.ts'

// The server runs as `postgres` only when this process is root: only then can a folder be out of its reach.
const asRoot = process.getuid?.() === 0
const notRoot = asRoot ? false : 'only root runs the embedded server as another user'

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
  const version = await withClient(first.url, async (client) => {
    return (await client.query('SHOW server_version')).rows[0].server_version
  })
  t.match(version, /^\d+\.\d+/)

  const second = await startEmbeddedPostgres(dataDir)
  t.equal(second.url, first.url, 'a server already running on the directory is reused')
  await second.stop()
  const one = await withClient(first.url, async (client) => (await client.query('SELECT 1 AS one')).rows[0].one)
  t.equal(one, 1, 'stopping a reused server leaves it running')

  await first.stop()
  await t.rejects(withClient(first.url, (client) => client.query('SELECT 1')), 'the owner stops it')

  const restarted = await startEmbeddedPostgres(dataDir, (message) => messages.push(message))
  const initialised = messages.filter((message) => message.includes('initialising'))
  t.equal(initialised.length, 1, 'an initialised directory is not initialised again')
  await stopEmbeddedPostgres(dataDir)
  await t.rejects(withClient(restarted.url, (client) => client.query('SELECT 1')),
    'stopEmbeddedPostgres stops a server by its directory')
  await removeEmbeddedPostgres(dataDir)
  t.notOk(existsSync(dataDir), 'removeEmbeddedPostgres deletes the data')
  t.notOk(existsSync(`${dataDir}.log`), 'and its log')
})

t.test('from a folder the postgres user cannot reach, the data lives in a folder of its own and is found again', {
  skip: notRoot
}, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'eventcache-private-')) // 0700, like root's home
  const configured = join(root, 'checkout', '.data', 'postgres')
  const dataDir = relocatedDataDir(configured)
  t.teardown(async () => {
    await stopEmbeddedPostgres(configured)
    await rm(dirname(dataDir), { recursive: true, force: true })
    await rm(root, { recursive: true, force: true })
  })
  const messages: string[] = []

  const first = await startEmbeddedPostgres(configured, (message) => messages.push(message))
  const where = messages.filter((message) => message.includes('can reach them'))
  t.equal(where.length, 1, 'one line says where the data went, and why')
  // From a checkout in a private folder, the binaries are out of reach too: the same line says where they run from.
  t.match(where[0], new RegExp(`^embedded PostgreSQL (runs from \\S+ and )?keeps its data in ${escaped(dataDir)}, ` +
    'where the postgres user it runs as can reach them$'))
  t.match(dataDir, /^\/var\/tmp\/eventcache-[0-9a-f]{12}\/postgres$/)
  const postgresUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
  const info = await stat(dataDir)
  t.equal(info.uid, postgresUid, 'the postgres user owns the data directory')
  t.equal(info.mode & 0o777, 0o700, 'and it is private')
  await withClient(first.url, async (client) => {
    await client.query('CREATE TABLE kept (value int)')
    await client.query('INSERT INTO kept VALUES (42)')
  })
  await first.stop()

  const again = await startEmbeddedPostgres(configured, (message) => messages.push(message))
  t.equal(messages.filter((message) => message.includes('initialising')).length, 1, 'the next start finds the data')
  const kept = await withClient(again.url, async (client) => (await client.query('SELECT value FROM kept')).rows)
  t.same(kept, [{ value: 42 }], 'what was written before the restart is still there')
  await stopEmbeddedPostgres(configured)
  await t.rejects(withClient(again.url, (client) => client.query('SELECT 1')), 'stopped by its configured path')

  const running = await startEmbeddedPostgres(configured)
  await removeEmbeddedPostgres(configured)
  await t.rejects(withClient(running.url, (client) => client.query('SELECT 1')), 'removing it stops it')
  t.notOk(existsSync(dirname(dataDir)), 'and deletes its folder in /var/tmp, data and log')
  t.notOk(existsSync(configured), 'and the configured folder')
})

t.test('a folder of that name that another user made is refused, in one line saying what to do', {
  skip: notRoot
}, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'eventcache-private-'))
  const configured = join(root, '.data', 'postgres')
  const squatted = dirname(relocatedDataDir(configured))
  t.teardown(async () => {
    await rm(squatted, { recursive: true, force: true })
    await rm(root, { recursive: true, force: true })
  })
  // What another user of the machine could do: /var/tmp is everyone's, and the name is predictable.
  await mkdir(squatted)
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim())
  await chown(squatted, nobody, nobody)

  const error = await startEmbeddedPostgres(configured).then(() => undefined, (error: unknown) => error)
  t.type(error, EmbeddedPostgresError)
  const message = (error as Error).message
  t.match(message, `${squatted} exists but this user did not make it`)
  t.match(message, /set DATABASE_URL to use your own server$/, 'it ends with what to do')
  t.notMatch(message, /\n/, 'in one line')
  t.equal((await stat(squatted)).uid, nobody, 'and leaves that folder alone')
})

function escaped (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
