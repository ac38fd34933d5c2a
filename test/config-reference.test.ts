import { readFile } from 'node:fs/promises'
import { parseEnv } from 'node:util'
import t from 'tap'
import { loadConfig } from '../src/config.ts'
import { GENERATED_FILES, renderConfigurationDoc, renderEnvExample } from '../src/config-reference.ts'
import { CONFIG_GROUPS, ConfigSchema, type ConfigVariable } from '../src/config-schema.ts'

const ROOT = new URL('../', import.meta.url)
const VARIABLES = Object.keys(ConfigSchema.properties) as ConfigVariable[]

for (const file of GENERATED_FILES) {
  t.test(`the committed ${file.path} is what ConfigSchema generates now`, async (t) => {
    const committed = await readFile(new URL(file.path, ROOT), 'utf8')
    t.equal(committed, file.render(),
      `${file.path} is up to date (if not: run npm run config:docs and commit the result)`)
  })
}

t.test('every variable has a description, and every optional one says what unset means', async (t) => {
  for (const name of VARIABLES) {
    const schema = ConfigSchema.properties[name]
    t.match(schema.description, /\S{3}/, `${name} has a description`)
    if (schema.default === undefined) t.match(schema.description, /\bUnset\b/, `${name} says what unset means`)
  }
})

t.test('every variable belongs to exactly one group, and groups name only variables', async (t) => {
  const listed = CONFIG_GROUPS.flatMap((group) => group.variables)
  for (const name of VARIABLES) {
    const groups = CONFIG_GROUPS.filter((group) => group.variables.includes(name)).map((group) => group.title)
    t.equal(groups.length, 1, `${name} is in exactly one group of CONFIG_GROUPS (src/config-schema.ts): ${groups}`)
  }
  t.same(listed.filter((name) => !VARIABLES.includes(name)), [], 'no group names a variable the schema lacks')
  for (const group of CONFIG_GROUPS) t.match(group.about, /\S{3}/, `${group.title} has a sentence of context`)
})

t.test('the reference states each variable\'s values and the schema\'s default', async (t) => {
  const doc = renderConfigurationDoc()
  t.match(doc, /generated from `ConfigSchema`.*by `npm run config:docs`: do not\s+edit it by hand/)
  const sections = doc.split(/^### /m).slice(1)
  t.same(sections.map((section) => section.slice(1, section.indexOf('`', 1))),
    CONFIG_GROUPS.flatMap((group) => group.variables), 'one section per variable, in group order')
  const sectionOf = (name: string) => sections.find((section) => section.startsWith(`\`${name}\``)) ?? ''
  t.match(sectionOf('CACHE_MODE'), /- Values: `off`, `memory`, `redis` or `tiered`\n- Default: unset/)
  t.match(sectionOf('CACHE_MODE').replace(/\s+/g, ' '),
    'Unset: `redis` when `REDIS_URL` or `REDIS_CLUSTER_NODES` is set, else `memory`.', 'the derived default')
  t.match(sectionOf('PORT'), /- Values: an integer from 0 to 65535\n- Default: `3000`/)
  t.match(sectionOf('WORKERS'), /- Values: an integer of at least 1, or `auto`\n- Default: `1`/)
  t.match(sectionOf('CACHE_MEMORY_MAX_BYTES'), /- Default: `67108864` \(64 MiB\)/)
  t.match(sectionOf('API_KEYS'), /- Values: a string matching `\^\[\^,\\s\]\{16,\}/)
  for (const name of VARIABLES) {
    const fallback = ConfigSchema.properties[name].default as unknown
    t.match(sectionOf(name), fallback === undefined ? /\n- Default: unset\n/ : `\n- Default: \`${String(fallback)}\``,
      `${name}'s default`)
  }
})

t.test('.env.example lists every variable blank, so a copy of it changes nothing', async (t) => {
  const example = renderEnvExample()
  const parsed = parseEnv(example)
  t.same(Object.keys(parsed).sort(), [...VARIABLES].sort(), 'every variable, and nothing else')
  t.same(Object.values(parsed).filter((value) => value !== ''), [], 'every value blank')
  t.same(loadConfig(parsed), loadConfig({}), 'loaded, it is the defaults')
  t.notOk(example.split('\n').some((line) => line !== '' && !line.startsWith('#') && !/^[A-Z0-9_]+=$/.test(line)),
    'every other line is a comment')
  t.match(example, /^# CACHE_MODE=tiered: seconds an in-process \(L1\) copy lives at most/m, 'comments drop backticks')
})

t.test('every line of both files fits in 100 characters', async (t) => {
  for (const file of GENERATED_FILES) {
    t.same(file.render().split('\n').filter((line) => line.length > 100), [], file.path)
  }
})
