// Counts body bytes the origin sends, per file, so offload is measurable. Only files that exist are
// counted (a 404 adds nothing), and the per-path table is bounded.

import type { ServerResponse } from 'node:http'

export interface OriginStats {
  since: string
  totalBytes: number
  totalRequests: number
  paths: Record<string, { bytes: number; requests: number }>
}

/** Where paths beyond maxPaths are counted. */
export const OTHER_PATHS = '(other paths)'

export class OriginByteCounter {
  private readonly since = new Date().toISOString()
  private totalBytes = 0
  private totalRequests = 0
  private readonly paths = new Map<string, { bytes: number; requests: number }>()

  /** @param maxPaths paths counted one by one; the rest share OTHER_PATHS. Default 10 000. */
  constructor(private readonly maxPaths = 10_000) {}

  /** Wraps res.write/res.end so every body byte for the file at `path` is counted. */
  track(path: string, res: ServerResponse): void {
    const key = this.paths.has(path) || this.paths.size < this.maxPaths ? path : OTHER_PATHS
    const entry = this.paths.get(key) ?? { bytes: 0, requests: 0 }
    this.paths.set(key, entry)
    entry.requests++
    this.totalRequests++
    const count = (chunk: unknown, encoding?: unknown) => {
      if (chunk == null || typeof chunk === 'function') return
      const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : (chunk as Uint8Array).byteLength
      entry.bytes += bytes
      this.totalBytes += bytes
    }
    const write = res.write.bind(res) as (...args: unknown[]) => boolean
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      count(chunk, rest[0])
      return write(chunk, ...rest)
    }) as ServerResponse['write']
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      count(chunk, rest[0])
      return end(chunk, ...rest)
    }) as ServerResponse['end']
  }

  snapshot(): OriginStats {
    return { since: this.since, totalBytes: this.totalBytes, totalRequests: this.totalRequests, paths: Object.fromEntries(this.paths) }
  }
}
