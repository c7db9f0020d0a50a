// The worker's HTTP requests in flight, across every response (browsers open about six per origin).
//
// Fair by asset: a free slot goes to the waiter whose asset holds the fewest slots. First come alone
// gave a response's second run a slot before another response had its first: on the emulated
// internet's fast origin a visitor's photos took all six, the film (the page's largest asset) started
// 1.3–1.7 s after navigation instead of at once, and the page loaded last.
// Among equals, the asset with the most bytes still to fetch goes first (then first come): the page
// is done when its largest asset is, so that one must not queue behind a photo's last half megabyte.
// An asset's own waiters are served first come first served: its head before its rest.
// Grants wait for a microtask, so the batches a released hold wakes together compete as equals.

import { once } from './once.ts'

export interface SlotLimiter {
  /**
   * Resolves with a release function once a slot is free and this waiter's turn has come. `key`: the
   * asset; `bytesLeft`: what the waiter still has to fetch (breaks ties between assets holding as many).
   */
  acquire(key?: string, bytesLeft?: number): Promise<() => void>
  /** How many slots there are. */
  readonly size: number
}

export function createSlotLimiter(limit: number): SlotLimiter {
  let active = 0
  const heldBy = new Map<string, number>()
  const waiting: Array<{ key: string; bytesLeft: number; grant: (release: () => void) => void }> = []
  const held = (key: string) => heldBy.get(key) ?? 0
  let draining = false

  const drain = () => {
    draining = false
    while (active < limit && waiting.length > 0) {
      // Bytes left by asset, over its waiters; an asset's own waiters go first come first served (its
      // head batch before the rest: the reader needs the head first).
      const bytesLeft = new Map<string, number>()
      for (const { key, bytesLeft: bytes } of waiting) bytesLeft.set(key, (bytesLeft.get(key) ?? 0) + bytes)
      let best = 0
      for (let i = 1; i < waiting.length; i++) {
        const [candidate, chosen] = [waiting[i].key, waiting[best].key]
        const fewer = held(candidate) - held(chosen)
        if (fewer < 0 || (fewer === 0 && bytesLeft.get(candidate)! > bytesLeft.get(chosen)!)) best = i
      }
      const [next] = waiting.splice(best, 1)
      active++
      heldBy.set(next.key, held(next.key) + 1)
      next.grant(once(() => release(next.key))) // a second call frees nothing
    }
  }
  const scheduleDrain = () => {
    if (draining) return
    draining = true
    queueMicrotask(drain)
  }
  const release = (key: string) => {
    active--
    const still = held(key) - 1
    if (still > 0) heldBy.set(key, still)
    else heldBy.delete(key)
    scheduleDrain()
  }
  return {
    size: limit,
    acquire(key = '', bytesLeft = 0) {
      return new Promise((grant) => {
        waiting.push({ key, bytesLeft, grant })
        scheduleDrain()
      })
    },
  }
}
