// How many bytes a receiving peer lets the sender have in flight towards it (the credit window of
// peer-wire.ts), sized by the queueing delay the transfer causes, as LEDBAT does.
//
// Why: Chromium's SCTP grows its congestion window past a shaped link's buffer, loses a burst of
// packets and then recovers about one per round trip. Measured on the emulated internet (10 Mbit/s
// uplink with a 50 ms buffer, 40 ms RTT): an unbounded sender moved 0.33 MB in its first second,
// then stalled for ~3 s (5.0 Mbit/s over 6 MB, 73 drops); with at most 64 KiB unacknowledged it
// moved 1.1 MB in the first second and 9.2 Mbit/s overall with no drop; 256 KiB stalled again.
// So the window must stay near the path's bandwidth-delay product, which nobody knows in advance.
//
// The receiver measures the one-way delay of the sender's timestamped pongs (the clocks differ, so
// only the rise above the smallest delay seen counts: that is the queue the transfer built). Below
// `targetQueueMs` and while the window is in use it grows (quickly at first); above it shrinks. On an
// unshaped path (loopback, a LAN) no queue builds and the window grows to `maxBytes`.

export interface FlowWindowConfig {
  /** Window before any delay is measured. Default 64 KiB: ≈ 1.3 × the BDP of 10 Mbit/s at 40 ms. */
  initialBytes: number
  /**
   * Never below this. Default 48 KiB (three 16 KiB chunks): ≈ the BDP of 10 Mbit/s at 40 ms. Measured
   * on the emulated internet with 32 KiB: busy pages' timing noise held the window at the floor and
   * each peer gave ~0.5 MB/s of its 1.25 MB/s uplink.
   */
  minBytes: number
  /** Never above this. Default 8 MiB. */
  maxBytes: number
  /** Queueing delay the window aims at, ms. Default 25 ms: half of a home link's buffer (50 ms here). */
  targetQueueMs: number
}

export const FLOW_WINDOW_DEFAULTS: Readonly<FlowWindowConfig> = Object.freeze({
  initialBytes: 64 * 1024,
  minBytes: 48 * 1024,
  maxBytes: 8 * 1024 * 1024,
  targetQueueMs: 25,
})

export interface FlowWindow {
  /** Current window, bytes. */
  bytes(): number
  /** Payload bytes arrived from this peer. */
  onBytes(count: number): void
  /**
   * A delay sample: local receive time minus the sender's send time, ms (clock offset included; only
   * differences matter). Returns true when the window changed.
   */
  onDelay(oneWayMs: number): boolean
  /** Smallest one-way delay seen (the path without queue), or null before any sample. */
  baseDelayMs(): number | null
}

/**
 * Growth per sample while in slow start, until the first sample that shows a queue. Ended instead when
 * the smallest of the last RECENT_SAMPLES did, the window grew 1.5× a sample for four samples past
 * that point: on the emulated internet (10 Mbit/s uplinks, 50 ms buffer) windows reached 324-486 KiB
 * in the first 1.5 s of a connection, the sender's SCTP lost bursts and stalled, and peers gave a
 * visitor 0.3-0.8 MB/s for seconds before settling at 1.15 MB/s with windows of 80-180 KiB.
 */
const SLOW_START_GAIN = 0.5
/** Growth per sample afterwards, at zero queue (proportionally less as the queue nears the target). */
const STEADY_GAIN = 0.125
/** Shrink factor when the queue is above the target. */
const DECREASE = 0.8
/**
 * The queue is judged on the smallest of the last few samples (slow start's end excepted): a page's
 * event loop adds delay spikes of tens of ms to single samples (measured under load), while a real
 * queue lasts across them.
 */
const RECENT_SAMPLES = 4

export function createFlowWindow(config: Partial<FlowWindowConfig> = {}): FlowWindow {
  const c = { ...FLOW_WINDOW_DEFAULTS, ...config }
  let window = Math.min(c.maxBytes, Math.max(c.minBytes, c.initialBytes))
  let base: number | null = null
  let slowStart = true
  /** Bytes that arrived since the previous sample: growing an unused window means nothing. */
  let arrived = 0
  const recent: number[] = []
  return {
    bytes: () => window,
    onBytes(count) {
      arrived += count
    },
    onDelay(oneWayMs) {
      if (!Number.isFinite(oneWayMs)) return false
      base = base === null ? oneWayMs : Math.min(base, oneWayMs)
      recent.push(oneWayMs)
      if (recent.length > RECENT_SAMPLES) recent.shift()
      const queueMs = Math.min(...recent) - base
      const used = arrived >= window / 2
      arrived = 0
      const before = window
      // Slow start ends at the first sample with a queue, not at the smallest of the last few (see
      // SLOW_START_GAIN). A busy page's late sample may end it early: the window then grows at the
      // steady pace.
      if (oneWayMs - base > c.targetQueueMs / 2) slowStart = false
      if (queueMs > c.targetQueueMs) {
        slowStart = false
        window = Math.max(c.minBytes, Math.floor(window * DECREASE))
      } else if (used) {
        const gain = (slowStart ? SLOW_START_GAIN : STEADY_GAIN) * (1 - queueMs / c.targetQueueMs)
        window = Math.min(c.maxBytes, Math.floor(window * (1 + gain)))
      }
      return window !== before
    },
    baseDelayMs: () => base,
  }
}
