/**
 * Why the embedded PostgreSQL cannot start, in one line that ends with what to do about it: the
 * entry points print the message alone, as they do for a ConfigError, never a stack trace.
 */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError'
}

/** The most telling short reason a child process or file operation failed. */
export function failureReason (error: unknown): string {
  const { code, syscall, stderr, message } = error as {
    code?: unknown, syscall?: string, stderr?: unknown, message?: string
  }
  // A program that never ran (EACCES, ENOENT) has only a code; one that ran and failed says why on stderr.
  if (syscall?.startsWith('spawn') && typeof code === 'string') return code
  const said = typeof stderr === 'string' ? stderr.split('\n').find((line) => line.trim() !== '') : undefined
  return said?.trim() ?? message ?? String(error)
}
