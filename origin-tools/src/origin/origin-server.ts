// The development origin: static files with the HTTP semantics swarmcdn relies on (Range → 206/416,
// ETag and conditional requests, Accept-Ranges, content types), the SW headers, byte counting,
// and optionally the tracker's WebSocket on the same port.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import send from 'send'
import { OriginByteCounter } from './byte-counter.ts'
import { VisitorReports } from './visitor-reports.ts'
import type { SwarmTracker } from '../tracker/swarm-tracker.ts'
import { MANIFEST_FILE, SAME_ORIGIN_TRACKER_PATH, SERVICE_WORKER_FILE } from '../../../core/manifest-format.ts'

export const ORIGIN_STATS_PATH = '/__swarmcdn/origin-stats'
export const TRACKER_STATS_PATH = '/__swarmcdn/tracker-stats'
export const VISITOR_REPORT_PATH = '/__swarmcdn/visitor-report'
export const VISITOR_REPORTS_PATH = '/__swarmcdn/visitor-reports'

export interface OriginServerOptions {
  siteDir: string
  /** Tracker to mount at SAME_ORIGIN_TRACKER_PATH, or null. */
  tracker: SwarmTracker | null
  /** Extra JSON endpoints (path → producer), e.g. seeder stats. */
  extraStats?: Record<string, () => unknown>
}

export interface OriginServer {
  server: Server
  counter: OriginByteCounter
  visitors: VisitorReports
}

export function createOriginServer(options: OriginServerOptions): OriginServer {
  const counter = new OriginByteCounter()
  const visitors = new VisitorReports()
  const server = createServer((req, res) => handleRequest(req, res, options, counter, visitors))
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://origin').pathname
    if (options.tracker && path === SAME_ORIGIN_TRACKER_PATH) return options.tracker.handleUpgrade(req, socket, head)
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
  })
  return { server, counter, visitors }
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

function handleRequest(req: IncomingMessage, res: ServerResponse, options: OriginServerOptions, counter: OriginByteCounter, visitors: VisitorReports): void {
  // The raw (percent-encoded) path: what manifests list, and what `send` expects (it decodes itself).
  const path = new URL(req.url ?? '/', 'http://origin').pathname
  if (path === ORIGIN_STATS_PATH) return sendJson(res, counter.snapshot())
  if (path === TRACKER_STATS_PATH && options.tracker) return sendJson(res, options.tracker.stats())
  if (path === VISITOR_REPORTS_PATH) return sendJson(res, visitors.snapshot())
  if (path === VISITOR_REPORT_PATH && req.method === 'POST') {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body.length < 8192 ? (body += chunk) : undefined))
    req.on('end', () => res.writeHead(visitors.accept(body) ? 204 : 400).end())
    return
  }
  const extra = options.extraStats?.[path]
  if (extra) return sendJson(res, extra())

  counter.track(path, res, req.socket.remoteAddress)
  const file = send(req, path, { root: options.siteDir, index: ['index.html'], dotfiles: 'ignore', etag: true, lastModified: true, acceptRanges: true })
  file.on('headers', (response: ServerResponse, filePath: string) => {
    if (filePath === join(options.siteDir, SERVICE_WORKER_FILE)) {
      response.setHeader('Service-Worker-Allowed', '/')
      response.setHeader('Cache-Control', 'no-cache')
    }
    if (filePath === join(options.siteDir, MANIFEST_FILE)) response.setHeader('Cache-Control', 'no-cache')
  })
  file.on('error', (error: { status?: number; message: string }) => {
    const status = error.status ?? 500
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(status === 404 ? 'not found' : 'error')
  })
  file.on('directory', () => {
    res.writeHead(301, { Location: path + '/' })
    res.end()
  })
  file.pipe(res)
}
