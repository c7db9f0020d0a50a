// Counts body bytes the origin sends, per path and per client address, so offload is measurable
// (per visitor too, where each visitor has its own address, as in the emulated network benchmark).

import type { ServerResponse } from 'node:http'

export interface OriginStats {
  since: string
  totalBytes: number
  totalRequests: number
  paths: Record<string, { bytes: number; requests: number }>
  /** By client IP address (IPv4-mapped IPv6 written as plain IPv4). */
  clients: Record<string, { bytes: number; requests: number }>
}

export class OriginByteCounter {
  private readonly since = new Date().toISOString()
  private totalBytes = 0
  private totalRequests = 0
  private readonly paths = new Map<string, { bytes: number; requests: number }>()
  private readonly clients = new Map<string, { bytes: number; requests: number }>()

  /** Wraps res.write/res.end so every body byte for `path` (and `client`, an IP address) is counted. */
  track(path: string, res: ServerResponse, client = 'unknown'): void {
    const entry = this.paths.get(path) ?? { bytes: 0, requests: 0 }
    this.paths.set(path, entry)
    const address = client.startsWith('::ffff:') ? client.slice(7) : client
    const byClient = this.clients.get(address) ?? { bytes: 0, requests: 0 }
    this.clients.set(address, byClient)
    entry.requests++
    byClient.requests++
    this.totalRequests++
    const count = (chunk: unknown, encoding?: unknown) => {
      if (chunk == null || typeof chunk === 'function') return
      const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : (chunk as Uint8Array).byteLength
      entry.bytes += bytes
      byClient.bytes += bytes
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
    return { since: this.since, totalBytes: this.totalBytes, totalRequests: this.totalRequests, paths: Object.fromEntries(this.paths), clients: Object.fromEntries(this.clients) }
  }
}
