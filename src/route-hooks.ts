import type { onRequestHookHandler, onResponseHookHandler, RouteOptions } from 'fastify'

interface RouteHooks {
  onRequest: onRequestHookHandler
  onResponse: onResponseHookHandler
}

/**
 * Adds `hook` after a route's own hooks of that kind, from an `onRoute` hook: the route then runs
 * it, and no other route pays for it (where a global hook would run on every request and decide).
 */
export function appendRouteHook<Name extends keyof RouteHooks> (
  route: RouteOptions,
  name: Name,
  hook: RouteHooks[Name]
): void {
  const hooks = route[name] as RouteHooks[Name] | Array<RouteHooks[Name]> | undefined
  route[name] = [...[hooks ?? []].flat(), hook] as RouteOptions[Name]
}
