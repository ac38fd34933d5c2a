// RFC 9110 §15.5.6: a method a resource does not support is a 405 that lists, in `Allow`, the
// methods it does; `OPTIONS` answers that list (§9.3.7). The router only knows a path for the
// methods it serves, so a request it cannot route is matched here against every route's path.

/** Each route path's methods, and the patterns that recognise a request's path as one of them. */
export class AllowedMethods {
  readonly #paths = new Map<string, { pattern: RegExp, methods: Set<string> }>()

  /** A route as Fastify declares it (its `url`, with `:params`). A wildcard route is left out. */
  add (url: string, method: string | readonly string[]): void {
    if (url.includes('*')) return
    const path = this.#paths.get(url) ?? { pattern: patternOf(url), methods: new Set<string>() }
    for (const one of [method].flat()) path.methods.add(one)
    // Fastify answers HEAD wherever GET is served (exposeHeadRoutes).
    if (path.methods.has('GET')) path.methods.add('HEAD')
    this.#paths.set(url, path)
  }

  /** `Allow` for a request's URL (its query string ignored), or undefined when no route serves its path. */
  allowFor (url: string): string | undefined {
    const query = url.indexOf('?')
    const path = query === -1 ? url : url.slice(0, query)
    for (const { pattern, methods } of this.#paths.values()) {
      if (pattern.test(path)) return [...new Set([...methods, 'OPTIONS'])].sort().join(', ')
    }
    return undefined
  }
}

/** `/events/:id` as `^/events/[^/]+/?$`: a parameter is one segment; a trailing slash is ignored, as routing does. */
function patternOf (url: string): RegExp {
  const segments = url.replace(/\/$/, '').split('/').map((segment) => {
    return segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  })
  return new RegExp(`^${segments.join('/')}/?$`)
}
