// Which origin bytes one visitor's page load wasted: bytes the origin sent again for a range of a file
// it had already sent to this visitor (an aborted Range request asked again, or the same pieces fetched
// by two paths). From the origin's request log (byte-counter.ts).

import type { OriginRequestRecord } from '../../origin-tools/src/origin/byte-counter.ts'

export interface PathWaste {
  requests: number
  aborted: number
  /** Body bytes sent. */
  bytes: number
  /** Bytes sent beyond the first time each byte of the file was sent. */
  wastedBytes: number
}

export interface OriginWaste extends PathWaste {
  byPath: Record<string, PathWaste>
}

/** First byte of the file a request's body starts at (0 for a whole-file 200). */
function bodyStart(record: Pick<OriginRequestRecord, 'contentRange'>): number {
  const match = /^bytes (\d+)-/.exec(record.contentRange ?? '')
  return match ? Number(match[1]) : 0
}

/** Size of the union of half-open intervals. */
function unionBytes(intervals: Array<[number, number]>): number {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0])
  let total = 0
  let end = -Infinity
  for (const [a, b] of sorted) {
    if (b <= end) continue
    total += b - Math.max(a, end)
    end = b
  }
  return total
}

export function originWaste(records: readonly Pick<OriginRequestRecord, 'path' | 'contentRange' | 'bytes' | 'aborted'>[]): OriginWaste {
  const byPath: Record<string, PathWaste> = {}
  const intervals = new Map<string, Array<[number, number]>>()
  for (const record of records) {
    const entry = (byPath[record.path] ??= { requests: 0, aborted: 0, bytes: 0, wastedBytes: 0 })
    entry.requests++
    if (record.aborted) entry.aborted++
    entry.bytes += record.bytes
    const start = bodyStart(record)
    const list = intervals.get(record.path) ?? []
    list.push([start, start + record.bytes])
    intervals.set(record.path, list)
  }
  const total: OriginWaste = { requests: 0, aborted: 0, bytes: 0, wastedBytes: 0, byPath }
  for (const [path, entry] of Object.entries(byPath)) {
    entry.wastedBytes = entry.bytes - unionBytes(intervals.get(path)!)
    total.requests += entry.requests
    total.aborted += entry.aborted
    total.bytes += entry.bytes
    total.wastedBytes += entry.wastedBytes
  }
  return total
}

/** One line: requests, aborted, wasted MB, and the paths that wasted any. */
export function formatWaste(waste: OriginWaste): string {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(2)
  const paths = Object.entries(waste.byPath)
    .filter(([, entry]) => entry.wastedBytes > 0 || entry.aborted > 0)
    .map(([path, entry]) => `${path.split('/').pop()} ${mb(entry.wastedBytes)} MB/${entry.aborted} aborted/${entry.requests} req`)
  return `origin requests ${waste.requests}, aborted ${waste.aborted}, wasted ${mb(waste.wastedBytes)} MB${paths.length ? ` (${paths.join(', ')})` : ''}`
}
