// Verified pieces kept in memory, the least recently added dropped past a byte bound: the service
// worker's latest stored pieces (stored-notifier.ts), which agents read for their peers, and each
// agent's own copies of what it read (loader/agent/peer-agent.ts). Why memory: an agent's IndexedDB
// reads queue behind the SW's write transactions, and in a crowd, where every piece is fresh and
// wanted, they took 2-5 s each (bench:net, crowd of 8).

import { pieceKey } from './piece-store.ts'

export interface RecentPieces {
  add(infoHash: string, index: number, bytes: Uint8Array): void
  get(infoHash: string, index: number): Uint8Array | undefined
  /** Bytes held. */
  bytes(): number
}

export function createRecentPieces(maxBytes: number): RecentPieces {
  const pieces = new Map<string, Uint8Array>()
  let held = 0
  return {
    add(infoHash, index, bytes) {
      if (bytes.length > maxBytes) return
      const key = pieceKey(infoHash, index)
      const old = pieces.get(key)
      if (old) {
        held -= old.length
        pieces.delete(key)
      }
      pieces.set(key, bytes)
      held += bytes.length
      for (const [oldest, value] of pieces) {
        if (held <= maxBytes) break
        pieces.delete(oldest)
        held -= value.length
      }
    },
    get: (infoHash, index) => pieces.get(pieceKey(infoHash, index)),
    bytes: () => held,
  }
}
