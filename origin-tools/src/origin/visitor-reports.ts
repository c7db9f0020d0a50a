// Demo telemetry: pages of the demo site post their swarmcdn totals, the owner dashboard reads the sum.
// Only `swarmcdn serve` has it; swarmcdn.js itself reports nothing to anyone.
//
// Anyone can post, so the table is bounded (oldest report out when full, a few ids per address),
// reports expire, and every number is checked and capped: a fake report can add at most a capped
// amount to the totals, for a while, and cannot lock real visitors out.

export interface VisitorReport {
  bytes: { store: number; peers: number; http: number }
  peers: number
  uploadedBytes: number
  receivedAt: number
}

export interface VisitorReportsSnapshot {
  visitors: number
  totals: { store: number; peers: number; http: number; uploadedBytes: number }
  byVisitor: Record<string, VisitorReport>
}

export interface VisitorReportsConfig {
  /** Visitors kept; when full the oldest report makes room. Default 1000. */
  maxVisitors: number
  /** Visitor ids one client address may hold; its oldest makes room. Default 16. */
  maxVisitorsPerAddress: number
  /** A report not refreshed for this long is dropped. Default 10 min (pages report every few seconds). */
  reportTtlMs: number
  /** Largest byte count one report may claim, per field. Default 64 GiB. */
  maxReportBytes: number
  /** Largest report body. Default 4096. */
  maxBodyBytes: number
}

export const VISITOR_REPORTS_DEFAULTS: VisitorReportsConfig = {
  maxVisitors: 1000,
  maxVisitorsPerAddress: 16,
  reportTtlMs: 10 * 60_000,
  maxReportBytes: 64 * 1024 ** 3,
  maxBodyBytes: 4096,
}

const VISITOR_ID = /^[A-Za-z0-9_-]{4,64}$/
const MAX_PEERS = 10_000

export class VisitorReports {
  private readonly reports = new Map<string, VisitorReport & { address: string }>()
  readonly config: VisitorReportsConfig

  constructor(config: Partial<VisitorReportsConfig> = {}) {
    this.config = { ...VISITOR_REPORTS_DEFAULTS, ...config }
  }

  /** Accepts one JSON report from `address`; returns false for anything malformed. */
  accept(body: string, nowMs = Date.now(), address = 'unknown'): boolean {
    if (body.length > this.config.maxBodyBytes) return false
    let value: any
    try {
      value = JSON.parse(body)
    } catch {
      return false
    }
    const count = (x: unknown, max: number) => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= max ? x : null)
    const bytes = (x: unknown) => count(x, this.config.maxReportBytes)
    const id = typeof value?.visitorId === 'string' && VISITOR_ID.test(value.visitorId) ? value.visitorId : null
    const store = bytes(value?.bytes?.store), peers = bytes(value?.bytes?.peers), http = bytes(value?.bytes?.http)
    const peerCount = value?.peers === undefined ? 0 : count(value.peers, MAX_PEERS)
    const uploaded = value?.uploadedBytes === undefined ? 0 : bytes(value.uploadedBytes)
    if (id === null || store === null || peers === null || http === null || peerCount === null || uploaded === null) return false
    this.expire(nowMs)
    const existing = this.reports.get(id)
    // An id belongs to the address that first reported it, so nobody else can overwrite a visitor.
    if (existing && existing.address !== address) return false
    if (!existing) {
      const mine = [...this.reports].filter(([, report]) => report.address === address)
      if (mine.length >= this.config.maxVisitorsPerAddress) this.reports.delete(mine[0][0])
      if (this.reports.size >= this.config.maxVisitors) this.reports.delete(this.reports.keys().next().value!)
    }
    this.reports.delete(id) // re-inserted last: the Map's order is oldest report first
    this.reports.set(id, { bytes: { store, peers, http }, peers: peerCount, uploadedBytes: uploaded, receivedAt: nowMs, address })
    return true
  }

  snapshot(nowMs = Date.now()): VisitorReportsSnapshot {
    this.expire(nowMs)
    const totals = { store: 0, peers: 0, http: 0, uploadedBytes: 0 }
    const byVisitor: Record<string, VisitorReport> = {}
    for (const [id, { address: _address, ...report }] of this.reports) {
      totals.store += report.bytes.store
      totals.peers += report.bytes.peers
      totals.http += report.bytes.http
      totals.uploadedBytes += report.uploadedBytes
      byVisitor[id] = report
    }
    return { visitors: this.reports.size, totals, byVisitor }
  }

  private expire(nowMs: number): void {
    for (const [id, report] of this.reports) {
      if (nowMs - report.receivedAt <= this.config.reportTtlMs) break // oldest first: the rest are newer
      this.reports.delete(id)
    }
  }
}
