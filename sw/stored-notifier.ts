// Wraps the SW's piece store so every successful put is announced to the page agents (batched per
// asset), so pieces fetched over HTTP are shared with peers at once. Which agents also get the bytes
// is the port layer's call (peer-source-port.ts: only where a connected peer may want them). The
// latest `recentBytes` of them stay here, in memory, for an agent whose peer asks for one it was not
// sent ({type:'read-piece'}): its IndexedDB reads queue behind this worker's writes.
// The fetcher writes only pieces that came from a remote source, never store hits.

import type { PieceStore } from './piece-store.ts'
import { createRecentPieces } from './recent-pieces.ts'

export interface StoredNotifierOptions {
  /** Pieces stored within this window go out in one message per asset. Default 50 ms. */
  batchMs?: number
  /** Bytes of the latest stored pieces kept in memory for the agents. Default 16 MiB: in a crowd the wanted pieces are the fresh ones. */
  recentBytes?: number
  setTimer?: (callback: () => void, ms: number) => unknown
}

/** A piece just stored, verified. */
export interface StoredPiece {
  index: number
  bytes: Uint8Array
}

export interface NotifyingPieceStore extends PieceStore {
  /** A piece stored lately, from memory (verified: it was stored), or undefined. */
  recent(infoHash: string, index: number): Uint8Array | undefined
}

export function withStoredNotifications(store: PieceStore, notify: (infoHash: string, stored: StoredPiece[]) => void, options: StoredNotifierOptions = {}): NotifyingPieceStore {
  const batchMs = options.batchMs ?? 50
  const setTimer = options.setTimer ?? ((callback: () => void, ms: number) => setTimeout(callback, ms))
  const recent = createRecentPieces(options.recentBytes ?? 16 * 1024 * 1024)
  const batches = new Map<string, StoredPiece[]>()
  let scheduled = false

  const flush = () => {
    scheduled = false
    for (const [infoHash, stored] of batches) notify(infoHash, stored)
    batches.clear()
  }

  return {
    get: (infoHash, index) => store.get(infoHash, index),
    getBlob: (infoHash, index) => store.getBlob(infoHash, index),
    has: (infoHash, index) => store.has(infoHash, index),
    deleteAsset: (infoHash) => store.deleteAsset(infoHash),
    usageBytes: () => store.usageBytes(),
    recent: (infoHash, index) => recent.get(infoHash, index),
    async put(infoHash, index, bytes) {
      // Announced once the write has succeeded, not as it starts. Announced as it started (stop 33),
      // e2e/peer-offload.test.ts's two viewers arriving together at a finished visitor's video took
      // the origin's bytes in 6 of 24 runs (the test failed in 3, and 3 waited 20 s for pieces first;
      // announced on success, none of 24), and the crowd had gained nothing beyond the noise from it.
      const ok = await store.put(infoHash, index, bytes)
      if (!ok) return ok
      const copy = bytes.slice() // its own: the caller's buffer is the response's
      recent.add(infoHash, index, copy)
      const batch = batches.get(infoHash) ?? []
      batch.push({ index, bytes: copy })
      batches.set(infoHash, batch)
      if (!scheduled) {
        scheduled = true
        setTimer(flush, batchMs)
      }
      return ok
    },
  }
}
