import fp from 'fastify-plugin'
import { AllowedMethods } from '../src/allowed-methods.ts'
import { handleError, unroutedHandler } from '../src/error-handlers.ts'

/** The API's error policy, and its 404, 405 and OPTIONS for what the router cannot route (src/error-handlers.ts). */
export default fp(async function errors (app) {
  app.setErrorHandler(handleError)
  // Every route's path and methods, for the 405's Allow.
  const allowed = new AllowedMethods()
  app.addHook('onRoute', ({ url, method }) => allowed.add(url, method))
  app.setNotFoundHandler(unroutedHandler(allowed))
}, { name: 'errors' })
