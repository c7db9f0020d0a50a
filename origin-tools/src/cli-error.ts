// Errors the CLI reports as one line and a non-zero exit, never a stack trace.

export type CliErrorCode =
  | 'usage'
  | 'site-not-found'
  | 'site-not-directory'
  | 'site-unreadable'
  | 'symlink-loop'
  | 'key-exists'
  | 'key-not-found'
  | 'key-invalid'
  | 'key-inside-site'
  | 'manifest-invalid'
  | 'output-unwritable'
  | 'manifest-missing'
  | 'verify-failed'
  | 'port-in-use'
  | 'tracker-unreachable'

export class CliError extends Error {
  readonly code: CliErrorCode
  readonly exitCode: number
  constructor(code: CliErrorCode, message: string, exitCode = code === 'usage' ? 2 : 1) {
    super(message)
    this.name = 'CliError'
    this.code = code
    this.exitCode = exitCode
  }
}

/** Maps a Node fs error about `path` to a CliError with advice. */
export function fsErrorToCliError(error: unknown, path: string, what: string): CliError {
  const code = (error as NodeJS.ErrnoException)?.code
  if (code === 'ENOENT') return new CliError('site-not-found', `${what} not found: ${path}`)
  if (code === 'EACCES' || code === 'EPERM') return new CliError('site-unreadable', `${what} is not readable: ${path} (check its permissions)`)
  if (code === 'ELOOP') return new CliError('symlink-loop', `symlink loop at ${path}: remove or fix the link`)
  if (code === 'ENOTDIR') return new CliError('site-not-directory', `${what} is not a directory: ${path}`)
  return new CliError('site-unreadable', `cannot read ${what} ${path}: ${(error as Error)?.message ?? String(error)}`)
}
