// Background work (checking stored pieces after they were served, storing what the cold path sent
// untouched) waits until the pages have stopped asking for a moment: on a busy device it would
// otherwise compete with the very loads it follows (issue 11, `npm run bench:sw`).

export interface QuietGate {
  /** A page asked for something now. */
  touch(): void
  /** Nothing was asked for quietMs. */
  isQuiet(): boolean
  /** Resolves once nothing has been asked for quietMs, or after maxWaitMs at the latest (a page that never rests). */
  whenQuiet(maxWaitMs?: number): Promise<void>
}

export interface QuietGateOptions {
  /** Default 1000 ms. */
  quietMs?: number
  setTimer?: (callback: () => void, ms: number) => unknown
  now?: () => number
}

export function createQuietGate(options: QuietGateOptions = {}): QuietGate {
  const quietMs = options.quietMs ?? 1000
  const setTimer = options.setTimer ?? ((callback: () => void, ms: number) => setTimeout(callback, ms))
  const now = options.now ?? (() => performance.now())
  let lastTouch = -Infinity
  const isQuiet = () => now() - lastTouch >= quietMs
  return {
    touch: () => void (lastTouch = now()),
    isQuiet,
    async whenQuiet(maxWaitMs = Infinity) {
      const deadline = now() + maxWaitMs
      while (!isQuiet() && now() < deadline) await new Promise<void>((resolve) => setTimer(resolve, Math.max(1, Math.min(lastTouch + quietMs, deadline) - now())))
    },
  }
}
