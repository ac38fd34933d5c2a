// The bench's shape, as bench/README.md's layout states it: a package that reaches the product
// through bench/product.ts alone, whose modules import one another without a cycle, whose measuring
// steps hand results to the report rather than import it, and whose files stay small.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { imports, named as name, ROOT, sources as sourcesUnder } from '../support/imports.ts'

const BENCH = join(ROOT, 'bench')
/** Every .ts file under `directory`, the bench's results folder left out. */
const sources = (directory: string) => sourcesUnder(directory, directory === BENCH ? ['results'] : [])
const benchFiles = sources(BENCH)
const graph = new Map(benchFiles.map((file) => [file, imports(file)]))

t.test('only bench/product.ts imports the product', async (t) => {
  const reaching = benchFiles.filter((file) => graph.get(file)!.some((target) => !target.startsWith(BENCH + '/')))
  t.same(reaching.map(name), ['bench/product.ts'])
})

t.test('the product never imports the bench', async (t) => {
  const product = [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'plugins'))]
  const importing = product.filter((file) => imports(file).some((target) => target.startsWith(BENCH + '/')))
  t.same(importing.map(name), [])
})

t.test('the bench\'s modules import one another without a cycle', async (t) => {
  const cycles: string[] = []
  const done = new Set<string>()
  const visit = (file: string, path: string[]) => {
    if (path.includes(file)) {
      cycles.push([...path.slice(path.indexOf(file)), file].map(name).join(' → '))
      return
    }
    if (done.has(file)) return
    for (const target of graph.get(file) ?? []) visit(target, [...path, file])
    done.add(file)
  }
  for (const file of benchFiles) visit(file, [])
  t.same(cycles, [])
})

t.test('no measuring step imports the report', async (t) => {
  const steps = benchFiles.filter((file) => file.startsWith(join(BENCH, 'steps') + '/'))
  const reporting = steps.filter((file) => graph.get(file)!.some((target) => target.startsWith(join(BENCH, 'report'))))
  t.same(reporting.map(name), [])
})

t.test('no file of the bench is over 300 lines', async (t) => {
  const long = benchFiles.filter((file) => readFileSync(file, 'utf8').trimEnd().split('\n').length > 300)
  t.same(long.map(name), [])
})
