// The sending side of the credit window (peer-wire.ts `credit`): payload bytes go out only while the
// total sent stays within what the receiver allowed. The receiver sizes the allowance
// (flow-window.ts); a peer that speaks no flow control (version 1) gets an unlimited gate.

export interface SendCredit {
  /** The receiver's cumulative allowance; lower values than before are ignored. */
  allow(totalBytes: number): void
  /** Resolves once `bytes` more fit in the allowance, and counts them as sent. In order of calls. */
  take(bytes: number): Promise<void>
  /** Bytes sent so far. */
  sent(): number
  /** Wakes every waiter (the connection closed): they resolve and find the link closed. */
  close(): void
}

export function createSendCredit(initialBytes: number): SendCredit {
  let allowed = initialBytes
  let sent = 0
  let closed = false
  const waiters: Array<{ bytes: number; resolve: () => void }> = []
  const wake = () => {
    while (waiters.length > 0 && (closed || sent + waiters[0].bytes <= allowed)) {
      const next = waiters.shift()!
      sent += next.bytes
      next.resolve()
    }
  }
  return {
    allow(totalBytes) {
      if (!(totalBytes > allowed)) return
      allowed = totalBytes
      wake()
    },
    take(bytes) {
      if (waiters.length === 0 && (closed || sent + bytes <= allowed)) {
        sent += bytes
        return Promise.resolve()
      }
      return new Promise((resolve) => {
        waiters.push({ bytes, resolve })
        wake()
      })
    },
    sent: () => sent,
    close() {
      closed = true
      wake()
    },
  }
}
