import { Kind, KindGuard, OptionalKind, type TSchema } from '@sinclair/typebox'
import { CONFIG_GROUPS, ConfigSchema, type ConfigVariable } from './config-schema.ts'

/**
 * The configuration reference and `.env.example`, rendered from ConfigSchema and CONFIG_GROUPS so
 * that meanings, allowed values and defaults are written once, in the schema. `npm run config:docs`
 * writes the files; a test fails when the committed copies differ from what this renders.
 */

/** The files `npm run config:docs` writes, by path from the repository root. */
export const GENERATED_FILES: ReadonlyArray<{ path: string, render: () => string }> = [
  { path: 'docs/configuration.md', render: renderConfigurationDoc },
  { path: '.env.example', render: renderEnvExample }
]

const WIDTH = 100
const SOURCE = 'generated from `ConfigSchema` (src/config-schema.ts) by `npm run config:docs`'

export function renderConfigurationDoc (): string {
  const lines = [
    '# Configuration',
    '',
    ...wrap(`This page is ${SOURCE}: do not edit it by hand; change the schema and run the script.`),
    '',
    ...wrap('eventcache reads its whole configuration from environment variables. At start-up the server ' +
      'also reads a `.env` file in its working directory, for what the environment does not set; ' +
      '[`.env.example`](../.env.example) lists every variable, blank. An empty value counts as unset. A bad ' +
      'value stops the server at start-up with a message naming every invalid variable, e.g. ' +
      '`invalid environment: CACHE_MODE="disk": Expected union value`.'),
    '',
    ...CONFIG_GROUPS.flatMap((group) => wrap(`- [${group.title}](#${anchor(group.title)}): ` +
      group.variables.map((name) => `[\`${name}\`](#${anchor(name)})`).join(', '), '  '))
  ]
  for (const group of CONFIG_GROUPS) {
    lines.push('', `## ${group.title}`, '', ...wrap(group.about))
    for (const name of group.variables) {
      lines.push('', `### \`${name}\``, '', ...wrap(descriptionOf(name)), '',
        ...wrap(`- Values: ${valuesOf(ConfigSchema.properties[name])}`, '  '),
        `- Default: ${defaultOf(name)}`)
    }
  }
  return `${lines.join('\n')}\n`
}

export function renderEnvExample (): string {
  const lines = [
    '# eventcache configuration: every variable the server reads, blank.',
    ...comment(`This file is ${SOURCE}: do not edit it by hand.`),
    ...comment('Copy it to .env, which the server reads at start-up for what the environment does not set, ' +
      'and fill in what you need. Blank means unset: the default applies. docs/configuration.md explains ' +
      'every variable.')
  ]
  for (const group of CONFIG_GROUPS) {
    lines.push('', `# --- ${group.title} ---`, ...comment(group.about))
    for (const name of group.variables) {
      lines.push('', ...comment(descriptionOf(name)),
        ...comment(`Values: ${valuesOf(ConfigSchema.properties[name])}. Default: ${defaultOf(name)}.`),
        `${name}=`)
    }
  }
  return `${lines.join('\n')}\n`
}

function descriptionOf (name: ConfigVariable): string {
  const { description } = ConfigSchema.properties[name]
  if (description === undefined) throw new Error(`ConfigSchema.${name} has no description`)
  return description
}

/** The values a schema accepts, in words: `a`, `b` or `c`; an integer from 1 to 10; a string matching … */
function valuesOf (schema: TSchema): string {
  if (KindGuard.IsLiteral(schema)) return `\`${String(schema.const)}\``
  if (KindGuard.IsBoolean(schema)) return '`true` or `false`'
  if (KindGuard.IsUnion(schema)) return inWords(schema.anyOf.map((member) => valuesOf(member)))
  if (KindGuard.IsInteger(schema)) return `an integer${rangeOf(schema.minimum, schema.maximum)}`
  if (KindGuard.IsString(schema)) {
    if (schema.pattern !== undefined) return `a string matching \`${schema.pattern}\``
    const min = schema.minLength ?? 0
    return min > 0 ? `a string of at least ${min} character${min === 1 ? '' : 's'}` : 'a string'
  }
  throw new Error(`no wording for a schema of kind ${String(schema[Kind])}`)
}

/** The schema's default, or "unset" for an optional variable (its description says what unset means). */
function defaultOf (name: ConfigVariable): string {
  const schema: TSchema = ConfigSchema.properties[name]
  if (schema.default !== undefined) return `\`${String(schema.default)}\`${inMebibytes(name, schema.default)}`
  if (schema[OptionalKind] === 'Optional') return 'unset'
  throw new Error(`ConfigSchema.${name} is required and has no default`)
}

/** A byte count also in MiB, when it is a whole number of them. */
function inMebibytes (name: ConfigVariable, value: unknown): string {
  const mebibyte = 1024 * 1024
  return name.endsWith('_BYTES') && typeof value === 'number' && value % mebibyte === 0
    ? ` (${value / mebibyte} MiB)`
    : ''
}

function rangeOf (minimum: number | undefined, maximum: number | undefined): string {
  if (minimum !== undefined && maximum !== undefined) return ` from ${minimum} to ${maximum}`
  if (minimum !== undefined) return ` of at least ${minimum}`
  return maximum !== undefined ? ` of at most ${maximum}` : ''
}

/** `a`, `b` or `c`; with a comma before "or" when the items are phrases (an integer …, or `auto`). */
function inWords (items: string[]): string {
  if (items.length <= 1) return items.join('')
  const or = items.some((item) => item.includes(' ')) ? ', or ' : ' or '
  return `${items.slice(0, -1).join(', ')}${or}${items.at(-1)}`
}

/** A GitHub heading anchor: lower case, punctuation dropped, spaces as hyphens. */
function anchor (title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-')
}

/** Prose as `#` comment lines, without Markdown's backticks. */
function comment (text: string): string[] {
  return wrap(`# ${text.replaceAll('`', '')}`, '# ')
}

/** Words filled into lines of at most WIDTH characters; lines after the first start with `indent`. */
function wrap (text: string, indent = ''): string[] {
  const lines: string[] = []
  let line = ''
  // A code span is one word, so that it never breaks across lines.
  for (const word of text.match(/(?:`[^`]*`|[^\s`])+/g) ?? []) {
    if (line !== '' && line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = indent + word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  return [...lines, line]
}
