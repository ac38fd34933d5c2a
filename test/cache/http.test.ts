import t from 'tap'
import { codedEtag, etagOf, matchesIfNoneMatch } from '../../src/cache/http/etag.ts'

t.test('ETag and If-None-Match', async (t) => {
  const etag = etagOf(Buffer.from('{"a":1}'))
  t.match(etag, /^"[\w-]{27}"$/)
  t.equal(etagOf(Buffer.from('{"a":1}')), etag, 'deterministic')
  t.not(etagOf(Buffer.from('{"a":2}')), etag)
  t.ok(matchesIfNoneMatch(etag, etag))
  t.ok(matchesIfNoneMatch(`W/${etag}`, etag))
  t.ok(matchesIfNoneMatch(`"x", ${etag}`, etag))
  t.ok(matchesIfNoneMatch('*', etag))
  t.notOk(matchesIfNoneMatch('"x"', etag))
  t.notOk(matchesIfNoneMatch(undefined, etag))
  t.equal(codedEtag(etag, 'identity'), etag)
  t.equal(codedEtag(etag, 'br'), `${etag.slice(0, -1)}.br"`, 'a coding\'s tag: the content\'s, the coding named')
  t.not(codedEtag(etag, 'gzip'), codedEtag(etag, 'br'))
  t.notOk(matchesIfNoneMatch(codedEtag(etag, 'br'), etag), 'each coding is a representation of its own')
})
