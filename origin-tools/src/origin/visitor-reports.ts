// Demo telemetry: pages of the demo site post their swarmcdn totals, the owner dashboard reads the sum.
// Only `swarmcdn serve` has it; swarmcdn.js itself reports nothing to anyone.

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

const MAX_VISITORS = 1000
const MAX_BODY_BYTES = 4096

export class VisitorReports {
  private readonly reports = new Map<string, VisitorReport>()

  /** Accepts one JSON report; returns false for anything malformed. */
  accept(body: string, nowMs = Date.now()): boolean {
    if (body.length > MAX_BODY_BYTES) return false
    let value: any
    try {
      value = JSON.parse(body)
    } catch {
      return false
    }
    const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : null)
    const id = typeof value?.visitorId === 'string' && value.visitorId.length <= 64 ? value.visitorId : null
    const store = n(value?.bytes?.store), peers = n(value?.bytes?.peers), http = n(value?.bytes?.http)
    if (id === null || store === null || peers === null || http === null) return false
    if (!this.reports.has(id) && this.reports.size >= MAX_VISITORS) return false
    this.reports.set(id, { bytes: { store, peers, http }, peers: n(value.peers) ?? 0, uploadedBytes: n(value.uploadedBytes) ?? 0, receivedAt: nowMs })
    return true
  }

  snapshot(): VisitorReportsSnapshot {
    const totals = { store: 0, peers: 0, http: 0, uploadedBytes: 0 }
    for (const report of this.reports.values()) {
      totals.store += report.bytes.store
      totals.peers += report.bytes.peers
      totals.http += report.bytes.http
      totals.uploadedBytes += report.uploadedBytes
    }
    return { visitors: this.reports.size, totals, byVisitor: Object.fromEntries(this.reports) }
  }
}
