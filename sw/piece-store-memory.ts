// PieceStore in memory: same budget and LRU semantics as the IndexedDB store. For tests, and a
// fallback where IndexedDB is unavailable (e.g. some private modes).

import { pieceKey, type PieceStore } from './piece-store.ts'

export interface MemoryPieceStoreOptions {
  budgetBytes: number
  /** Told which assets lost pieces to eviction (as the IndexedDB store's onEvicted). */
  onEvicted?: (infoHashes: ReadonlySet<string>) => void
}

export function createMemoryPieceStore(options: MemoryPieceStoreOptions): PieceStore {
  // A Map iterates in insertion order: re-inserting on use makes the first entry the least recently used.
  const entries = new Map<string, { infoHash: string; bytes: Uint8Array }>()
  let usage = 0

  function remove(key: string): void {
    const entry = entries.get(key)
    if (!entry) return
    entries.delete(key)
    usage -= entry.bytes.length
  }

  function use(infoHash: string, index: number): Uint8Array | undefined {
    const key = pieceKey(infoHash, index)
    const entry = entries.get(key)
    if (!entry) return undefined
    entries.delete(key)
    entries.set(key, entry)
    return entry.bytes
  }

  return {
    async get(infoHash, index) {
      return use(infoHash, index)
    },
    async getBlob(infoHash, index) {
      const bytes = use(infoHash, index)
      return bytes && new Blob([bytes as Uint8Array<ArrayBuffer>])
    },
    async put(infoHash, index, bytes) {
      if (bytes.length > options.budgetBytes) return false
      const key = pieceKey(infoHash, index)
      remove(key)
      const evicted = new Set<string>()
      for (const [oldest, entry] of entries) {
        if (usage + bytes.length <= options.budgetBytes) break
        remove(oldest)
        evicted.add(entry.infoHash)
      }
      entries.set(key, { infoHash, bytes: bytes.slice() }) // a copy: the caller's buffer may be reused
      usage += bytes.length
      try {
        if (evicted.size > 0) options.onEvicted?.(evicted)
      } catch {
        // A listener's failure must not fail the write.
      }
      return true
    },
    async has(infoHash, index) {
      return entries.has(pieceKey(infoHash, index))
    },
    async deleteAsset(infoHash) {
      for (const [key, entry] of [...entries]) if (entry.infoHash === infoHash) remove(key)
    },
    async usageBytes() {
      return usage
    },
  }
}
