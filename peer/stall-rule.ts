// When a piece request to a peer counts as stalled (site-swarm.ts takes it back and asks another
// holder, or fails it so the service worker goes to HTTP). By measured rate, not a fixed wait for the
// whole piece: a request behind others at the same peer may wait for the bytes ahead of it at the
// peer's measured rate (twice over, for jitter); once its turn has come, it stalls when no byte
// arrived for `stallMs`.

export interface StallCheck {
  nowMs: number
  startedMs: number
  lastProgressMs: number
  /** Bytes of this request received so far. */
  receivedBytes: number
  /** Bytes still owed by requests to the same peer sent before this one. */
  bytesAheadOfIt: number
  peerBytesPerSec: number
  stallMs: number
}

export function isStalled(c: StallCheck): boolean {
  if (c.receivedBytes === 0 && c.bytesAheadOfIt > 0) {
    const turnMs = (2 * c.bytesAheadOfIt * 1000) / Math.max(1, c.peerBytesPerSec)
    if (c.nowMs - c.startedMs < c.stallMs + turnMs) return false
    // Its turn should have come and gone: judged by the last progress of the peer as a whole below.
  }
  return c.nowMs - c.lastProgressMs > c.stallMs
}
