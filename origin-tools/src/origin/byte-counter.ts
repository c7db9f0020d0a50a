// Counts body bytes the origin sends, per file and per client address, so offload is measurable (per
// visitor too, where each visitor has its own address, as in the emulated network benchmark). Only
// files that exist are counted (a 404 adds nothing), and both tables are bounded.

import type { ServerResponse } from 'node:http'

export interface OriginStats {
  since: string
  totalBytes: number
  totalRequests: number
  paths: Record<string, { bytes: number; requests: number }>
  /** By client IP address (IPv4-mapped IPv6 written as plain IPv4). */
  clients: Record<string, { bytes: number; requests: number }>
}

/** Where paths beyond maxPaths are counted. */
export const OTHER_PATHS = '(other paths)'
export const OTHER_CLIENTS = '(other clients)'

/** One request for a file, for diagnostics (which bytes went out, whether the client hung up first). */
export interface OriginRequestRecord {
  /** Increasing from 1 in arrival order: `requestsSince(id)` returns the later ones. */
  id: number
  path: string
  client: string
  /** The Range header as sent, or null. */
  range: string | null
  /** The Cache-Control request header (browsers send `no-cache` for fetches that bypass their cache), or null. */
  cacheControl: string | null
  status: number
  /** The Content-Range answered, or null. */
  contentRange: string | null
  /** Body bytes handed to the socket. */
  bytes: number
  /** The connection closed before the response was complete (the client aborted it). */
  aborted: boolean
  startMs: number
  /** When it finished or was aborted; null while under way. */
  endMs: number | null
}

export class OriginByteCounter {
  private readonly since = new Date().toISOString()
  private totalBytes = 0
  private totalRequests = 0
  private readonly paths = new Map<string, { bytes: number; requests: number }>()
  private readonly clients = new Map<string, { bytes: number; requests: number }>()
  /** The latest requests, oldest first (at most maxEntries). */
  private readonly requests: OriginRequestRecord[] = []
  private nextRequestId = 1

  /**
   * @param maxEntries paths (and addresses) counted one by one; the rest share OTHER_PATHS (OTHER_CLIENTS). Also the number of requests kept in the log. Default 10 000.
   * @param now clock of the request log, ms. Default Date.now.
   */
  constructor(private readonly maxEntries = 10_000, private readonly now: () => number = Date.now) {}

  /** Wraps res.write/res.end so every body byte for the file at `path` (and `client`, an IP address) is counted. `range` and `cacheControl` (request headers) go to the request log. */
  track(path: string, res: ServerResponse, client = 'unknown', range: string | null = null, cacheControl: string | null = null): void {
    const key = this.paths.has(path) || this.paths.size < this.maxEntries ? path : OTHER_PATHS
    const entry = this.paths.get(key) ?? { bytes: 0, requests: 0 }
    this.paths.set(key, entry)
    const plain = client.startsWith('::ffff:') ? client.slice(7) : client
    const address = this.clients.has(plain) || this.clients.size < this.maxEntries ? plain : OTHER_CLIENTS
    const byClient = this.clients.get(address) ?? { bytes: 0, requests: 0 }
    this.clients.set(address, byClient)
    entry.requests++
    byClient.requests++
    this.totalRequests++
    const record: OriginRequestRecord = { id: this.nextRequestId++, path, client: plain, range, cacheControl, status: 0, contentRange: null, bytes: 0, aborted: false, startMs: this.now(), endMs: null }
    this.requests.push(record)
    if (this.requests.length > this.maxEntries) this.requests.shift()
    const ended = (aborted: boolean) => {
      if (record.endMs !== null) return
      record.endMs = this.now()
      record.aborted = aborted
      record.status = res.statusCode
      const contentRange = res.getHeader('content-range')
      record.contentRange = typeof contentRange === 'string' ? contentRange : null
    }
    res.once('finish', () => ended(false))
    res.once('close', () => ended(!res.writableFinished))
    const count = (chunk: unknown, encoding?: unknown) => {
      if (chunk == null || typeof chunk === 'function') return
      const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : (chunk as Uint8Array).byteLength
      record.bytes += bytes
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

  /** Logged requests with an id above `afterId` (0: all kept), oldest first. */
  requestsSince(afterId = 0): { nextId: number; requests: OriginRequestRecord[] } {
    return { nextId: this.nextRequestId, requests: this.requests.filter((record) => record.id > afterId).map((record) => ({ ...record })) }
  }

  snapshot(): OriginStats {
    return { since: this.since, totalBytes: this.totalBytes, totalRequests: this.totalRequests, paths: Object.fromEntries(this.paths), clients: Object.fromEntries(this.clients) }
  }
}
