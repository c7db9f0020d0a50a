// Counts body bytes the origin sends, per path, so offload is measurable.

import type { ServerResponse } from 'node:http'

export interface OriginStats {
  since: string
  totalBytes: number
  totalRequests: number
  paths: Record<string, { bytes: number; requests: number }>
}

export class OriginByteCounter {
  private readonly since = new Date().toISOString()
  private totalBytes = 0
  private totalRequests = 0
  private readonly paths = new Map<string, { bytes: number; requests: number }>()

  /** Wraps res.write/res.end so every body byte for `path` is counted. */
  track(path: string, res: ServerResponse): void {
    const entry = this.paths.get(path) ?? { bytes: 0, requests: 0 }
    this.paths.set(path, entry)
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
