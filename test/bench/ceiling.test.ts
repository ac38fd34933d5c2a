import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import t from 'tap'
import { writeCeilingBodies } from '../../bench/ceiling/bodies.ts'
import { ceilingPath, encodingHeaders } from '../../bench/scenarios.ts'

t.test('the ceiling sends each coding\'s stored bytes on a route of its own, identity where a coding gains nothing',
  async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'eventcache-ceiling-test-'))
    t.teardown(() => rm(directory, { recursive: true, force: true }))
    const page = Buffer.from(JSON.stringify({ data: Array.from({ length: 200 }, (_, id) => ({ id, name: 'x' })) }))
    const small = Buffer.from('{"id":1}')
    const written = await writeCeilingBodies(directory, [
      { name: 'events', route: '/events', identity: page },
      { name: 'event', route: '/events/:id', identity: small }
    ], ['identity', 'br', 'gzip'])
    t.same(written.map(({ name, accepted, body }) => [name, accepted, body.route, body.encoding]), [
      ['events', 'identity', '/events', 'identity'],
      ['events', 'br', '/br/events', 'br'],
      ['events', 'gzip', '/gzip/events', 'gzip'],
      ['event', 'identity', '/events/:id', 'identity'],
      ['event', 'br', '/br/events/:id', 'identity'],
      ['event', 'gzip', '/gzip/events/:id', 'identity']
    ])
    const bytes = async (index: number) => readFile(written[index]!.body.file)
    t.same(await bytes(0), page)
    t.same(brotliDecompressSync(await bytes(1)), page)
    t.same(gunzipSync(await bytes(2)), page)
    t.ok(written[1]!.bytes < page.length / 4, `br: ${written[1]!.bytes} of ${page.length} bytes`)
    t.same(await bytes(4), small, 'too small to gain: the identity bytes, as the cache keeps them')
    t.equal(ceilingPath('br', '/events?limit=100'), '/br/events?limit=100')
    t.equal(ceilingPath('identity', '/events?limit=100'), '/events?limit=100')
    t.same(encodingHeaders('identity'), {}, 'identity: no Accept-Encoding at all')
    t.same(encodingHeaders('gzip'), { 'accept-encoding': 'gzip' })
  })
