// The clock of stall checks (site-swarm.ts): time minus the stretches this page's event loop was
// blocked, seen as a periodic tick arriving late by more than a whole tick. A request gets no byte
// while the page itself cannot run, and that is not the peer's stall (measured in a crowd of 8
// browsers on 2 cores: pages blocked for seconds took most requests back as stalled, and the bytes
// already sent for them were wasted).

export interface ActiveClock {
  /** Call every `tickMs` (from a timer): a late call counts the delay as blocked time. */
  tick(): void
  /** Milliseconds, advancing only while the page could run. */
  now(): number
}

export function createActiveClock(tickMs: number, now: () => number = Date.now): ActiveClock {
  let blockedMs = 0
  let lastTickMs = now()
  return {
    tick() {
      const t = now()
      const late = t - lastTickMs - tickMs
      if (late > tickMs) blockedMs += late
      lastTickMs = t
    },
    now: () => now() - blockedMs,
  }
}
