// Wraps any PieceStore so every call the fetch path waits on has a bounded time: a read slower than
// storeReadTimeoutMs counts as a miss (get, getBlob → undefined; has → false), a write slower than
// storeWriteTimeoutMs as not stored (put → false). A failed call is a miss or not stored too. So a
// blocked database or a stuck disk costs a download, never a hung or failed response.
//
// A store that ran out of time is skipped until the late call settles: reads miss and writes are
// dropped at once, without reaching it. Otherwise every request would pay the full timeout again, and
// writes would pile up in memory behind a database that never answers (seen in Chromium: a page frozen
// in the back/forward cache holding the database blocked the SW's IndexedDB for good; issue 11).

import type { SwConfig } from './config.ts'
import type { PieceStore } from './piece-store.ts'
import { realSetTimer, withTimeout, type SetTimer } from './with-timeout.ts'

export interface StoreTimeoutOptions {
  config: Pick<SwConfig, 'storeReadTimeoutMs' | 'storeWriteTimeoutMs'>
  setTimer?: SetTimer
  /** Told when the store stops answering in time, and when it answers again. */
  onStuck?: (stuck: boolean) => void
}

export function withStoreTimeouts(store: PieceStore, options: StoreTimeoutOptions): PieceStore {
  const limit = (ms: number) => (ms > 0 ? ms : undefined) // 0: no limit
  const readMs = limit(options.config.storeReadTimeoutMs)
  const writeMs = limit(options.config.storeWriteTimeoutMs)
  const setTimer = options.setTimer ?? realSetTimer
  /** Calls that ran out of time and have not settled yet: while any has not, the store is skipped. */
  let late = 0

  function bounded<T>(call: () => Promise<T>, ms: number | undefined, miss: T): Promise<T> {
    if (late > 0) return Promise.resolve(miss)
    let work: Promise<T>
    try {
      work = call().catch(() => miss)
    } catch {
      return Promise.resolve(miss)
    }
    return withTimeout(work, ms, () => {
      if (late++ === 0) options.onStuck?.(true)
      void work.finally(() => {
        if (--late === 0) options.onStuck?.(false)
      })
      return miss
    }, setTimer)
  }

  return {
    get: (infoHash, index) => bounded(() => store.get(infoHash, index), readMs, undefined),
    getBlob: (infoHash, index) => bounded(() => store.getBlob(infoHash, index), readMs, undefined),
    has: (infoHash, index) => bounded(() => store.has(infoHash, index), readMs, false),
    put: (infoHash, index, bytes) => bounded(() => store.put(infoHash, index, bytes), writeMs, false),
    deleteAsset: (infoHash) => store.deleteAsset(infoHash),
    usageBytes: () => store.usageBytes(),
  }
}
