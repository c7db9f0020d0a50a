// One time limit for any promise: the response start and next-piece limits (asset-response.ts), the
// store read limit (piece-store-timeout.ts), the webseed header and body limits (webseed-source.ts),
// and the limits on storing from the HTTP cache (adopt-cached-assets.ts, deferred-store.ts).

/** Starts a timer; returns its cancel function. Injected so tests fire timeouts by hand. */
export type SetTimer = (callback: () => void, ms: number) => () => void

export const realSetTimer: SetTimer = (callback, ms) => {
  const timer = setTimeout(callback, ms)
  return () => clearTimeout(timer)
}

/**
 * Settles as `work` does, unless `ms` passes first: then settles as `onTimeout()` (return a fallback
 * value, or throw to reject). `ms` undefined or not finite: no limit. The timer is cancelled either
 * way, and a late rejection of `work` is handled (never unhandled).
 */
export function withTimeout<T, F = never>(work: Promise<T>, ms: number | undefined, onTimeout: () => F | Promise<F>, setTimer: SetTimer = realSetTimer): Promise<T | F> {
  if (ms === undefined || !Number.isFinite(ms)) return work
  return new Promise<T | F>((resolve, reject) => {
    let settled = false
    const cancel = setTimer(() => {
      if (settled) return
      settled = true
      try {
        resolve(onTimeout())
      } catch (error) {
        reject(error)
      }
    }, ms)
    work.then(
      (value) => {
        if (settled) return
        settled = true
        cancel()
        resolve(value)
      },
      (error: unknown) => {
        if (settled) return
        settled = true
        cancel()
        reject(error)
      },
    )
  })
}
