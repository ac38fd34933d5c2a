// The cache's front door: what the rest of the app uses of src/cache. Creating the cache, serving a
// cached read and a write's answer, the caching headers, the database-change invalidation, and the
// types the panel and the metrics read. README.md in this folder is the map of what is behind it.

export { createResponseCache, type ResponseCacheDependencies } from './create-response-cache.ts'
export type { ResponseCache } from './response-cache.ts'
export type { CacheOutcome } from './served.ts'
export type { AppliedDatabaseChange, CacheObserver, EpochReason } from './events.ts'
export type { InspectableStore } from './stores/store.ts'
export { encodedKey, ENCODINGS, COMPRESSED_ENCODINGS, type Encoding } from './encodings.ts'
export { representationsOf } from './representations.ts'

export { CACHED_READ, sendWritten, serveFromCache, WRITTEN } from './http/http-cache.ts'
export { writePrecondition } from './http/write-preconditions.ts'
export { cacheControlPolicy, NO_STORE, type CacheControlPolicy } from './http/cache-control.ts'
export { COMPRESSION, routeCaching } from './http/route-caching.ts'
export { etagOf } from './http/etag.ts'

export { DatabaseInvalidation } from './database/database-invalidation.ts'
export { CHANGES_CHANNEL, LISTENER_NAME } from './database/database-changes.ts'
export type { OwedJournal, OwedRow } from './resilience/owed-journal.ts'
