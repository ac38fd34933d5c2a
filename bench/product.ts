// The product as the bench uses it: the only module in bench/ that imports from ../src. The bench is
// a package of its own (bench/tsconfig.json) and sees the product through this list alone, so what it
// depends on is written down here, and the product's build never compiles the bench.
export { COMPRESSED_ENCODINGS, etagOf, representationsOf, type Encoding } from '../src/cache/index.ts'
export { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts'
export { migrate } from '../src/db/migrate.ts'
export { seed } from '../src/db/seed.ts'
export { API_SECURITY_HEADERS } from '../src/security-headers.ts'
export { freePort } from '../src/free-port.ts'

/**
 * The app's entry as the product's build emits it (dist/src/server.js beside dist/bench/): the bench
 * starts it in processes of its own, so it measures the build a user runs.
 */
export const APP_SERVER = new URL('../src/server.js', import.meta.url).pathname
