// The headers a cache hit sends, as constants: what the header ceiling sends with its bytes, so that
// a hit is compared with a server that writes as many headers, not fewer.
import { API_SECURITY_HEADERS } from '../product.ts'

/** What every ceiling route sends: the body's type, and its coding when it has one. */
export function bodyHeaders (encoding: string): Record<string, string> {
  const type = { 'content-type': 'application/json; charset=utf-8' }
  return encoding === 'identity' ? type : { ...type, 'content-encoding': encoding }
}

/**
 * A memory-mode hit's headers for a representation with `etag` in `encoding` (test/bench/ceiling.test.ts
 * holds their names to a real hit's), less those Node writes itself (Date, Connection, Keep-Alive,
 * Content-Length). Their values are a hit's, the timings fixed.
 */
export function hitHeaders (etag: string, encoding: string): Readonly<Record<string, string>> {
  return {
    ...API_SECURITY_HEADERS,
    'x-cache': 'HIT',
    etag,
    vary: 'accept-encoding',
    'cache-control': 'no-cache',
    'server-timing': 'cache;dur=0.01, db;dur=0.00',
    'x-db-queries': '0',
    ...bodyHeaders(encoding)
  }
}
