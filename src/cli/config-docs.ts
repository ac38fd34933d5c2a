// npm run config:docs: writes docs/configuration.md and .env.example from ConfigSchema.
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GENERATED_FILES } from '../config-reference.ts'

const root = new URL('../../', import.meta.url)
for (const file of GENERATED_FILES) {
  const path = fileURLToPath(new URL(file.path, root))
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, file.render())
  console.log(`wrote ${file.path}`)
}
