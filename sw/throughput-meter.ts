// Aggregate HTTP throughput, measured only while HTTP is busy (idle time does not dilute it): the rate
// the origin gives this visitor now, which is what a late peer is compared against.

export interface ThroughputMeter {
  /** A transfer started; call the returned function when it ends. */
  begin(): () => void
  add(bytes: number): void
  /** Bytes/s, or `fallback` before enough was measured. */
  rate(fallback: number): number
}

/** Measurements older than this fade out (exponential window). */
const WINDOW_MS = 3000
const MIN_MEASURED_BYTES = 256 * 1024

export function createThroughputMeter(now: () => number = Date.now): ThroughputMeter {
  let active = 0
  let busySinceMs = 0
  let busyMs = 0
  let bytes = 0
  const flush = () => {
    if (active === 0) return
    const t = now()
    const elapsed = t - busySinceMs
    busySinceMs = t
    // Decay both sums alike, so the rate follows the last few seconds of busy time.
    const keep = Math.exp(-elapsed / WINDOW_MS)
    busyMs = busyMs * keep + elapsed
    bytes *= keep
  }
  return {
    begin() {
      if (active++ === 0) busySinceMs = now()
      let ended = false
      return () => {
        if (ended) return
        ended = true
        flush()
        active--
      }
    },
    add(count) {
      flush()
      bytes += count
    },
    rate(fallback) {
      flush()
      return bytes >= MIN_MEASURED_BYTES && busyMs > 0 ? (bytes / busyMs) * 1000 : fallback
    },
  }
}
