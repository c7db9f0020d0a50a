// The development origin: static files with the HTTP semantics swarmcdn relies on (Range → 206/416,
// ETag and conditional requests, Accept-Ranges, content types), the SW headers, byte counting,
// and optionally the tracker's WebSocket on the same port.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { realpathSync } from 'node:fs'
import { join } from 'node:path'
import send from 'send'
import { OriginByteCounter } from './byte-counter.ts'
import { VisitorReports, type VisitorReportsConfig } from './visitor-reports.ts'
import { checkSitePath, requestPath } from './site-path.ts'
import type { SwarmTracker } from '../tracker/swarm-tracker.ts'
import { MANIFEST_FILE, SAME_ORIGIN_TRACKER_PATH, SERVICE_WORKER_FILE } from '../../../core/manifest-format.ts'

export const ORIGIN_STATS_PATH = '/__swarmcdn/origin-stats'
/** The origin's request log (`?after=<id>` for the later ones): path, Range, status, bytes, aborted, times. */
export const ORIGIN_REQUESTS_PATH = '/__swarmcdn/origin-requests'
export const TRACKER_STATS_PATH = '/__swarmcdn/tracker-stats'
export const VISITOR_REPORT_PATH = '/__swarmcdn/visitor-report'
export const VISITOR_REPORTS_PATH = '/__swarmcdn/visitor-reports'

export interface OriginServerOptions {
  siteDir: string
  /** Tracker to mount at SAME_ORIGIN_TRACKER_PATH, or null. */
  tracker: SwarmTracker | null
  /** Extra JSON endpoints (path → producer), e.g. seeder stats. */
  extraStats?: Record<string, () => unknown>
  /** Paths counted one by one in origin-stats. Default 10 000. */
  maxStatsPaths?: number
  visitorReports?: Partial<VisitorReportsConfig>
}

export interface OriginServer {
  server: Server
  counter: OriginByteCounter
  visitors: VisitorReports
}

export function createOriginServer(options: OriginServerOptions): OriginServer {
  const counter = new OriginByteCounter(options.maxStatsPaths)
  const visitors = new VisitorReports(options.visitorReports)
  // Resolved once: files are served only if their real path is inside this folder.
  const siteRealRoot = realpathSync(options.siteDir)
  const server = createServer((req, res) => {
    handleRequest(req, res, options, siteRealRoot, counter, visitors).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('error')
      else res.destroy()
    })
  })
  server.on('upgrade', (req, socket, head) => {
    const path = requestPath(req.url)
    if (options.tracker && path === SAME_ORIGIN_TRACKER_PATH) return options.tracker.handleUpgrade(req, socket, head)
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
  })
  return { server, counter, visitors }
}

/** `after` of a request-log query (0 when absent or not a number). */
function afterId(target: string | undefined): number {
  const match = /[?&]after=(\d+)/.exec(target ?? '')
  return match ? Number(match[1]) : 0
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

/** True when a browser says the request comes from a page of this very origin. */
function isSameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin
  const host = req.headers.host
  if (typeof origin !== 'string' || typeof host !== 'string') return false
  if (origin !== `http://${host}` && origin !== `https://${host}`) return false
  const site = req.headers['sec-fetch-site']
  return site === undefined || site === 'same-origin'
}

function acceptVisitorReport(req: IncomingMessage, res: ServerResponse, visitors: VisitorReports): void {
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  if (!isSameOrigin(req) || type !== 'application/json') {
    res.writeHead(403, { Connection: 'close' }).end()
    return
  }
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => {
    body += chunk
    if (body.length > visitors.config.maxBodyBytes) {
      res.writeHead(413, { Connection: 'close' }).end()
      req.destroy() // stop reading a body nobody will use
    }
  })
  req.on('end', () => {
    if (res.headersSent) return
    res.writeHead(visitors.accept(body, Date.now(), req.socket.remoteAddress ?? 'unknown') ? 204 : 400).end()
  })
}

async function handleRequest(req: IncomingMessage, res: ServerResponse, options: OriginServerOptions, siteRealRoot: string, counter: OriginByteCounter, visitors: VisitorReports): Promise<void> {
  // The raw (percent-encoded) path: what manifests list, and what `send` expects (it decodes itself).
  const path = requestPath(req.url)
  if (path === ORIGIN_STATS_PATH) return sendJson(res, counter.snapshot())
  if (path === ORIGIN_REQUESTS_PATH) return sendJson(res, counter.requestsSince(afterId(req.url)))
  if (path === TRACKER_STATS_PATH && options.tracker) return sendJson(res, options.tracker.stats())
  if (path === VISITOR_REPORTS_PATH) return sendJson(res, visitors.snapshot())
  if (path === VISITOR_REPORT_PATH && req.method === 'POST') return acceptVisitorReport(req, res, visitors)
  const extra = options.extraStats?.[path]
  if (extra) return sendJson(res, extra())

  if ((await checkSitePath(siteRealRoot, path)) === 'outside') {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found')
    return
  }
  const file = send(req, path, { root: siteRealRoot, index: ['index.html'], dotfiles: 'ignore', etag: true, lastModified: true, acceptRanges: true })
  // Counted once send has found a real file: 404s and redirects add no path to the table.
  const { range, 'cache-control': cacheControl } = req.headers
  file.on('file', () => counter.track(path, res, req.socket.remoteAddress, range ?? null, cacheControl ?? null))
  file.on('headers', (response: ServerResponse, filePath: string) => {
    if (filePath === join(siteRealRoot, SERVICE_WORKER_FILE)) {
      response.setHeader('Service-Worker-Allowed', '/')
      response.setHeader('Cache-Control', 'no-cache')
    }
    if (filePath === join(siteRealRoot, MANIFEST_FILE)) response.setHeader('Cache-Control', 'no-cache')
  })
  file.on('error', (error: { status?: number; message: string }) => {
    const status = error.status ?? 500
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(status === 404 ? 'not found' : 'error')
  })
  file.on('directory', () => {
    // Never `//host/`: a Location starting with two slashes would send the browser to another site.
    res.writeHead(301, { Location: '/' + path.replace(/^\/+/, '') + '/' })
    res.end()
  })
  file.pipe(res)
}
