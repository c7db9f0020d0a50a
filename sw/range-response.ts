// Range header semantics (RFC 9110 §14), as workbox-range-requests' createPartialResponse:
// one range → 206 with Content-Range; past the end → 416 with `Content-Range: bytes */len`;
// anything we do not handle (multiple ranges, other units, malformed) → ignore Range, 200 whole.

export type RangePlan =
  | { kind: 'full'; start: 0; end: number }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' }

function full(length: number): RangePlan {
  return { kind: 'full', start: 0, end: length - 1 }
}

/**
 * Plans the bytes to serve of a `length`-byte asset. `ifRange`/`etag`: a Range is honoured only when
 * If-Range is absent or equals our strong ETag (a date never matches: we have no Last-Modified).
 */
export function planRange(rangeHeader: string | null, length: number, ifRange: string | null = null, etag?: string): RangePlan {
  if (rangeHeader === null) return full(length)
  if (ifRange !== null && ifRange.trim() !== etag) return full(length)
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(rangeHeader)
  if (!match) return full(length) // includes multiple ranges ("bytes=0-1,5-6")
  const [, first, last] = match
  if (first === '' && last === '') return full(length)
  if (first === '') {
    // Suffix: the last n bytes.
    const n = Number(last)
    if (n === 0) return { kind: 'unsatisfiable' }
    return { kind: 'partial', start: Math.max(0, length - n), end: length - 1 }
  }
  const start = Number(first)
  if (!Number.isSafeInteger(start)) return { kind: 'unsatisfiable' }
  if (start >= length) return { kind: 'unsatisfiable' }
  if (last === '') return { kind: 'partial', start, end: length - 1 }
  const end = Number(last)
  if (end < start) return full(length) // invalid range-spec: the header is ignored
  return { kind: 'partial', start, end: Math.min(end, length - 1) }
}

/** 416 for a range past the end. */
export function unsatisfiableResponse(length: number, etag: string): Response {
  return new Response(null, {
    status: 416,
    statusText: 'Range Not Satisfiable',
    headers: { 'Content-Range': `bytes */${length}`, 'Accept-Ranges': 'bytes', ETag: etag },
  })
}
