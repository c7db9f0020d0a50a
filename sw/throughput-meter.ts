// Aggregate throughput of one source (HTTP, or the peers together), measured only while it is busy
// (idle time does not dilute it): the rate it gives this visitor now, which is what the other source
// is compared against.

export interface ThroughputMeter {
  /** A transfer started; call the returned function when it ends. */
  begin(): () => void
  add(bytes: number): void
  /** Bytes/s over the last few seconds of busy time, or `fallback` before enough was measured. */
  rate(fallback: number): number
  /**
   * Bytes/s over about the last second of busy time (`fallback` as for rate). It follows a change
   * sooner and is noisier: peers that have just connected speed up for seconds (more of them, their
   * flow windows opening), and a split decided on the slower average gave HTTP work they could do.
   */
  recentRate(fallback: number): number
  /** Transfers begun and not yet ended. */
  transfers(): number
}

/** Measurements older than this fade out (exponential window). */
const WINDOW_MS = 3000
const RECENT_WINDOW_MS = 1000
const MIN_MEASURED_BYTES = 256 * 1024

/** Busy time and bytes, both fading with the same exponential window. */
interface Decayed {
  windowMs: number
  busyMs: number
  bytes: number
}

export function createThroughputMeter(now: () => number = Date.now): ThroughputMeter {
  let active = 0
  let busySinceMs = 0
  /** Bytes ever measured: a rate needs MIN_MEASURED_BYTES of them, whatever the window. */
  let measured = 0
  const long: Decayed = { windowMs: WINDOW_MS, busyMs: 0, bytes: 0 }
  const recent: Decayed = { windowMs: RECENT_WINDOW_MS, busyMs: 0, bytes: 0 }
  const flush = () => {
    if (active === 0) return
    const t = now()
    const elapsed = t - busySinceMs
    busySinceMs = t
    for (const sums of [long, recent]) {
      // Decay both sums alike, so the rate follows the window's last busy time.
      const keep = Math.exp(-elapsed / sums.windowMs)
      sums.busyMs = sums.busyMs * keep + elapsed
      sums.bytes *= keep
    }
  }
  const rateOf = (sums: Decayed, fallback: number) => {
    flush()
    return measured >= MIN_MEASURED_BYTES && sums.busyMs > 0 ? (sums.bytes / sums.busyMs) * 1000 : fallback
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
      measured += count
      long.bytes += count
      recent.bytes += count
    },
    rate: (fallback) => rateOf(long, fallback),
    recentRate: (fallback) => rateOf(recent, fallback),
    transfers: () => active,
  }
}
