// The worker's HTTP requests in flight, across every response (browsers open about six per origin).
//
// Fair by asset: a free slot goes to the waiter whose asset holds the fewest slots, first come first
// served among equals. First come alone gave a response's second run a slot before another response
// had its first: on the emulated internet's fast origin a visitor's photos took all six, the film (the
// page's largest asset) started 1.3–1.7 s after navigation instead of at once, and the page loaded last.
// Grants wait for a microtask, so the batches a released hold wakes together compete as equals.

export interface SlotLimiter {
  /** Resolves with a release function once a slot is free and this waiter's turn has come. */
  acquire(key?: string): Promise<() => void>
}

export function createSlotLimiter(limit: number): SlotLimiter {
  let active = 0
  const heldBy = new Map<string, number>()
  const waiting: Array<{ key: string; grant: (release: () => void) => void }> = []
  let draining = false

  const drain = () => {
    draining = false
    while (active < limit && waiting.length > 0) {
      let best = 0
      for (let i = 1; i < waiting.length; i++) {
        if ((heldBy.get(waiting[i].key) ?? 0) < (heldBy.get(waiting[best].key) ?? 0)) best = i
      }
      const [next] = waiting.splice(best, 1)
      active++
      heldBy.set(next.key, (heldBy.get(next.key) ?? 0) + 1)
      let released = false
      next.grant(() => {
        if (released) return // a second call frees nothing
        released = true
        release(next.key)
      })
    }
  }
  const scheduleDrain = () => {
    if (draining) return
    draining = true
    queueMicrotask(drain)
  }
  const release = (key: string) => {
    active--
    const held = (heldBy.get(key) ?? 1) - 1
    if (held > 0) heldBy.set(key, held)
    else heldBy.delete(key)
    scheduleDrain()
  }
  return {
    acquire(key = '') {
      return new Promise((grant) => {
        waiting.push({ key, grant })
        scheduleDrain()
      })
    },
  }
}
