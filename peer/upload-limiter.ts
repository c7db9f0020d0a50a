// A token bucket shared by every connection: uploads never exceed maxBytesPerSec on average, with a
// burst of one second's worth. -1 (or any negative) means no limit.

export interface UploadLimiter {
  /** Resolves when `bytes` may be sent. */
  take(bytes: number): Promise<void>
}

export function createUploadLimiter(maxBytesPerSec: number, now: () => number = Date.now): UploadLimiter {
  if (!(maxBytesPerSec > 0)) return { take: () => Promise.resolve() }
  let tokens = maxBytesPerSec
  let lastMs = now()
  let queue = Promise.resolve()
  const refill = () => {
    const t = now()
    tokens = Math.min(maxBytesPerSec, tokens + ((t - lastMs) / 1000) * maxBytesPerSec)
    lastMs = t
  }
  return {
    take(bytes) {
      // Callers queue in order, so one big sender cannot starve the others.
      const turn = queue.then(async () => {
        refill()
        if (tokens < bytes) {
          await new Promise((resolve) => setTimeout(resolve, ((bytes - tokens) / maxBytesPerSec) * 1000))
          refill()
        }
        tokens -= bytes
      })
      queue = turn.catch(() => undefined)
      return turn
    },
  }
}
