import fp from 'fastify-plugin'

/**
 * Lets keep-alive clients go when the server closes. Node closes idle connections on close(),
 * but a connection busy with an in-flight request becomes idle only after its response, and would
 * then hold the process open until the keep-alive timeout. Responses sent while closing say
 * `Connection: close`, so each connection ends with its last response.
 */
export default fp(async function drain (app) {
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  // A callback hook, not an async one: it runs on every response, and a promise per response costs a hit.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (closing && request.raw.httpVersionMajor < 2) reply.header('connection', 'close')
    done(null, payload)
  })
}, { name: 'drain' })
