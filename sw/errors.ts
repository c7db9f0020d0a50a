// Error codes of the service worker pipeline. Every failure carries one; handle-asset-request.ts turns
// them into the one fallback (plain network fetch), asset-response.ts into a stream error mid-body.

import { ManifestError, type ManifestErrorCode } from '../core/manifest-format.ts'

export type SwErrorCode =
  | ManifestErrorCode
  | 'manifest-fetch-failed'
  | 'piece-hash-mismatch'
  | 'piece-length-mismatch'
  | 'webseed-http-status'
  | 'webseed-network'
  | 'webseed-bad-response'
  | 'webseed-timeout'
  | 'source-timeout'
  | 'no-source'
  | 'store-quota'
  | 'range-not-satisfiable'
  | 'aborted'
  | 'internal'

export class SwError extends Error {
  readonly code: SwErrorCode
  /** Worth trying the same thing again after a pause (network errors, 5xx). */
  readonly retriable: boolean
  constructor(code: SwErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.name = 'SwError'
    this.code = code
    this.retriable = options.retriable ?? false
  }
}

/** Normalises anything thrown into an SwError, keeping manifest codes. */
export function toSwError(error: unknown, fallback: SwErrorCode = 'internal'): SwError {
  if (error instanceof SwError) return error
  if (error instanceof ManifestError) return new SwError(error.code, error.message, { cause: error })
  if (isAbortError(error)) return new SwError('aborted', 'aborted', { cause: error })
  const message = error instanceof Error ? error.message : String(error)
  return new SwError(fallback, message, { cause: error })
}

export function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError'
}
