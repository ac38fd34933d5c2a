// The product's shape, as README.md's layout states it: plugins are wiring that import no other plugin,
// nothing but the composition root (src/app.ts) imports a plugin, and the rest of the app reaches the
// cache through its front door, src/cache/index.ts.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { imports, named, ROOT, sources } from './support/imports.ts'

const SRC = join(ROOT, 'src')
const PLUGINS = join(ROOT, 'plugins')
const CACHE = join(SRC, 'cache')
const within = (folder: string) => (file: string) => file.startsWith(`${folder}/`)

t.test('no plugin imports another plugin\'s module', async (t) => {
  const importing = sources(PLUGINS).filter((file) => imports(file).some(within(PLUGINS)))
  t.same(importing.map(named), [])
})

t.test('only src/app.ts imports plugins; no test does', async (t) => {
  const files = [...sources(SRC), ...sources(join(ROOT, 'test')), ...sources(join(ROOT, 'bench'))]
  const importing = files.filter((file) => imports(file).some(within(PLUGINS)))
  t.same(importing.map(named), ['src/app.ts'])
})

t.test('outside src/cache, the app imports the cache from src/cache/index.ts only', async (t) => {
  const app = [...sources(SRC), ...sources(PLUGINS), join(ROOT, 'bench/product.ts')]
    .filter((file) => !within(CACHE)(file))
  const behind = app.flatMap((file) => imports(file)
    .filter((target) => within(CACHE)(target) && target !== join(CACHE, 'index.ts'))
    .map((target) => `${named(file)} → ${named(target)}`))
  t.same(behind, [])
})

t.test('every plugin is wiring: at most 60 lines', async (t) => {
  const long = sources(PLUGINS).filter((file) => readFileSync(file, 'utf8').trimEnd().split('\n').length > 60)
  t.same(long.map(named), [])
})
