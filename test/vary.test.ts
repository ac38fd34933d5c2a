// RFC 9110 §12.5.5: a response whose content depends on Accept-Encoding says so in `Vary`, in
// every variant, the identity one included, or a shared cache could serve the wrong one.
import t from 'tap'
import { buildTestApp } from './support/app.ts'

t.test('responses @fastify/compress may encode carry Vary: accept-encoding in every variant', async (t) => {
  const app = await buildTestApp(t, { METRICS: 'true', DOCS: 'true' })
  for (const url of ['/metrics', '/docs/json', '/health']) {
    const identity = await app.inject(url)
    t.equal(identity.statusCode, 200, `${url}: 200`)
    t.equal(identity.headers['content-encoding'], undefined, `${url}: identity when none is accepted`)
    t.equal(identity.headers.vary, 'accept-encoding', `${url}: Vary on the identity variant`)
  }
  for (const url of ['/metrics', '/docs/json']) {
    const encoded = await app.inject({ url, headers: { 'accept-encoding': 'br' } })
    t.equal(encoded.headers['content-encoding'], 'br', `${url}: br when accepted`)
    t.equal(encoded.headers.vary, 'accept-encoding', `${url}: Vary once on the encoded variant`)
  }
})
