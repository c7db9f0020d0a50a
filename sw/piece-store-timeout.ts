// Wraps any PieceStore so its reads have a bounded time: a read slower than storeReadTimeoutMs counts
// as a miss (get, getBlob → undefined; has → false), so a blocked database or a stuck disk costs a download,
// never a hung or failed response. A failed read is a miss too. Writes are left alone (put already
// never rejects, and nobody waits on it before serving).

import type { SwConfig } from './config.ts'
import type { PieceStore } from './piece-store.ts'
import { realSetTimer, withTimeout, type SetTimer } from './with-timeout.ts'

export interface StoreReadTimeoutOptions {
  config: Pick<SwConfig, 'storeReadTimeoutMs'>
  setTimer?: SetTimer
}

export function withStoreReadTimeout(store: PieceStore, options: StoreReadTimeoutOptions): PieceStore {
  const ms = options.config.storeReadTimeoutMs > 0 ? options.config.storeReadTimeoutMs : undefined // 0: no limit
  const setTimer = options.setTimer ?? realSetTimer
  function bounded<T>(read: () => Promise<T>, miss: T): Promise<T> {
    let work: Promise<T>
    try {
      work = read().catch(() => miss)
    } catch {
      return Promise.resolve(miss)
    }
    return withTimeout(work, ms, () => miss, setTimer)
  }
  return {
    get: (infoHash, index) => bounded(() => store.get(infoHash, index), undefined),
    getBlob: (infoHash, index) => bounded(() => store.getBlob(infoHash, index), undefined),
    has: (infoHash, index) => bounded(() => store.has(infoHash, index), false),
    put: (infoHash, index, bytes) => store.put(infoHash, index, bytes),
    deleteAsset: (infoHash) => store.deleteAsset(infoHash),
    usageBytes: () => store.usageBytes(),
  }
}
