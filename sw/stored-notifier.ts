// Wraps the SW's piece store so every successful put is announced to the page agents as
// {type:'stored'} (batched per asset, with the bytes), so pieces fetched over HTTP are seeded to peers
// at once, from the agent's memory.
// The fetcher writes only pieces that came from a remote source, never store hits.

import type { AgentRegistry } from './agent-registry.ts'
import { notifyStored } from './peer-source-port.ts'
import type { PieceStore } from './piece-store.ts'

export interface StoredNotifierOptions {
  /** Pieces stored within this window go out in one message per asset. Default 50 ms. */
  batchMs?: number
  setTimer?: (callback: () => void, ms: number) => unknown
}

export function withStoredNotifications(store: PieceStore, agents: Pick<AgentRegistry, 'clientIds' | 'get'>, options: StoredNotifierOptions = {}): PieceStore {
  const batchMs = options.batchMs ?? 50
  const setTimer = options.setTimer ?? ((callback: () => void, ms: number) => setTimeout(callback, ms))
  const batches = new Map<string, Array<{ index: number; bytes: ArrayBuffer }>>()
  let scheduled = false

  const flush = () => {
    scheduled = false
    for (const [infoHash, indexes] of batches) notifyStored(agents, infoHash, indexes)
    batches.clear()
  }

  return {
    get: (infoHash, index) => store.get(infoHash, index),
    getBlob: (infoHash, index) => store.getBlob(infoHash, index),
    has: (infoHash, index) => store.has(infoHash, index),
    deleteAsset: (infoHash) => store.deleteAsset(infoHash),
    usageBytes: () => store.usageBytes(),
    async put(infoHash, index, bytes) {
      const ok = await store.put(infoHash, index, bytes)
      if (ok) {
        const batch = batches.get(infoHash) ?? []
        batch.push({ index, bytes: bytes.slice().buffer }) // its own copy: it waits for the batch, the caller's may not
        batches.set(infoHash, batch)
        if (!scheduled) {
          scheduled = true
          setTimer(flush, batchMs)
        }
      }
      return ok
    },
  }
}
