import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository's root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** Every .ts file under `directory`, except under the folders `skip` names (relative to it). */
export function sources (directory: string, skip: readonly string[] = []): string[] {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => !skip.some((folder) => relative(directory, file).startsWith(`${folder}/`)))
}

/** The relative specifiers a module imports or re-exports, resolved to files. */
export function imports (file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specifiers = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((match) => match[1]!)
  return specifiers.map((specifier) => resolve(dirname(file), specifier))
}

/** A file's path from the repository's root. */
export const named = (file: string) => relative(ROOT, file)
