// npm run clean: removes what eventcache keeps on this machine between runs, outside node_modules.
import { readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../config.ts'
import { removeEmbeddedPostgres } from '../db/embedded-postgres.ts'

/** The embedded PostgreSQL data folders each use keeps: the server's, the bench's, the tests'. */
const DATA_DIRECTORIES = [loadConfig().EMBEDDED_POSTGRES_DIR, '.data/bench-postgres', '.data/test-postgres']

/** Left in the temp folder: the binaries' copy (a private checkout), and the bench's folders of a run cut short. */
const TEMPORARY = /^eventcache-(embedded-postgres-|bench-|callgrind-|ceiling-)/

for (const directory of DATA_DIRECTORIES) {
  await removeEmbeddedPostgres(directory)
  console.log(`removed the embedded PostgreSQL data of ${directory} (and its folder in /var/tmp, if any)`)
}
for (const name of (await readdir(tmpdir())).filter((entry) => TEMPORARY.test(entry))) {
  await rm(join(tmpdir(), name), { recursive: true, force: true })
  console.log(`removed ${join(tmpdir(), name)}`)
}
await rm('dist', { recursive: true, force: true })
console.log('removed dist/ (npm start builds it again)')
