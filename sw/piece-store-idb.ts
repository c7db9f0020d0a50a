// PieceStore on IndexedDB (idb). Piece bytes and their LRU bookkeeping live in separate object stores,
// so touching a piece on read rewrites a small record, not the bytes. Usage is a counter updated in
// the same transaction as every write, so it stays right across SW restarts and other contexts.

import type { DBSchema, IDBPTransaction } from 'idb'
import { reopeningDb } from './reopening-db.ts'
import { pieceKey, type PieceStore } from './piece-store.ts'

interface PieceRecordMeta {
  key: string
  infoHash: string
  index: number
  size: number
  lastUsed: number
}

interface PieceDB extends DBSchema {
  pieces: { key: string; value: Uint8Array }
  lru: { key: string; value: PieceRecordMeta; indexes: { 'by-last-used': number; 'by-info-hash': string } }
  meta: { key: string; value: number }
}

type WriteTx = IDBPTransaction<PieceDB, ('pieces' | 'lru' | 'meta')[], 'readwrite'>

const USAGE_KEY = 'usageBytes'

export interface IdbPieceStoreOptions {
  budgetBytes: number
  /** Default 'swarmcdn-pieces'. */
  dbName?: string
  /** Clock for LRU order; default Date.now (made strictly increasing). */
  now?: () => number
  /**
   * Asked once, on the first write, to make storage persistent. Best-effort; default
   * navigator.storage.persist() when it exists.
   */
  requestPersistence?: () => Promise<unknown>
}

export function createIdbPieceStore(options: IdbPieceStoreOptions): PieceStore {
  const now = options.now ?? Date.now
  let lastTick = 0
  let persistenceAsked = false

  const open = reopeningDb<PieceDB>(options.dbName ?? 'swarmcdn-pieces', 1, (database) => {
    database.createObjectStore('pieces')
    const lru = database.createObjectStore('lru', { keyPath: 'key' })
    lru.createIndex('by-last-used', 'lastUsed')
    lru.createIndex('by-info-hash', 'infoHash')
    database.createObjectStore('meta')
  })

  // Strictly increasing, so two uses in the same millisecond still have an order.
  const tick = () => (lastTick = Math.max(now(), lastTick + 1e-3))

  function askPersistence(): void {
    if (persistenceAsked) return
    persistenceAsked = true
    const ask = options.requestPersistence ?? (() => globalThis.navigator?.storage?.persist?.() ?? Promise.resolve(false))
    try {
      void Promise.resolve(ask()).catch(() => undefined)
    } catch {
      // Best-effort only.
    }
  }

  async function writeTx(): Promise<WriteTx> {
    const tx = (await open()).transaction(['pieces', 'lru', 'meta'], 'readwrite')
    tx.done.catch(() => undefined) // an aborted tx is reported where awaited; never as an unhandled rejection
    return tx
  }

  async function usageBytes(): Promise<number> {
    try {
      return (await (await open()).get('meta', USAGE_KEY)) ?? 0
    } catch {
      return 0
    }
  }

  /** Deletes least-recently-used pieces until `usage <= target`; returns the new usage. */
  async function evictDownTo(tx: WriteTx, usage: number, target: number, keep?: string): Promise<number> {
    let cursor = await tx.objectStore('lru').index('by-last-used').openCursor()
    while (cursor && usage > target) {
      const record = cursor.value
      if (record.key !== keep) {
        await tx.objectStore('pieces').delete(record.key)
        await cursor.delete()
        usage -= record.size
      }
      cursor = await cursor.continue()
    }
    return usage
  }

  async function putOnce(infoHash: string, index: number, bytes: Uint8Array): Promise<void> {
    const key = pieceKey(infoHash, index)
    const tx = await writeTx()
    let usage = (await tx.objectStore('meta').get(USAGE_KEY)) ?? 0
    const existing = await tx.objectStore('lru').get(key)
    if (existing) usage -= existing.size
    usage = await evictDownTo(tx, usage, options.budgetBytes - bytes.length, key)
    await tx.objectStore('pieces').put(bytes, key)
    await tx.objectStore('lru').put({ key, infoHash, index, size: bytes.length, lastUsed: tick() })
    await tx.objectStore('meta').put(usage + bytes.length, USAGE_KEY)
    await tx.done
  }

  async function evictBytes(bytes: number): Promise<void> {
    const tx = await writeTx()
    const usage = (await tx.objectStore('meta').get(USAGE_KEY)) ?? 0
    const after = await evictDownTo(tx, usage, Math.max(0, usage - bytes))
    await tx.objectStore('meta').put(after, USAGE_KEY)
    await tx.done
  }

  return {
    async get(infoHash, index) {
      const key = pieceKey(infoHash, index)
      try {
        const tx = (await open()).transaction(['pieces', 'lru'], 'readwrite')
        tx.done.catch(() => undefined)
        const bytes = await tx.objectStore('pieces').get(key)
        if (bytes) {
          const record = await tx.objectStore('lru').get(key)
          if (record) await tx.objectStore('lru').put({ ...record, lastUsed: tick() })
        }
        await tx.done
        return bytes
      } catch {
        return undefined // a broken store is a miss, never a failed response
      }
    },
    async put(infoHash, index, bytes) {
      if (bytes.length > options.budgetBytes) return false
      askPersistence()
      try {
        await putOnce(infoHash, index, bytes)
        return true
      } catch (error) {
        if (!isQuotaError(error)) return false
      }
      // The browser's quota is below our budget: make room (the piece, or a tenth of what we hold) and retry once.
      try {
        await evictBytes(Math.max(bytes.length, Math.ceil((await usageBytes()) / 10)))
        await putOnce(infoHash, index, bytes)
        return true
      } catch {
        return false
      }
    },
    async has(infoHash, index) {
      try {
        return (await (await open()).getKey('pieces', pieceKey(infoHash, index))) !== undefined
      } catch {
        return false
      }
    },
    async deleteAsset(infoHash) {
      const tx = await writeTx()
      let usage = (await tx.objectStore('meta').get(USAGE_KEY)) ?? 0
      let cursor = await tx.objectStore('lru').index('by-info-hash').openCursor(IDBKeyRange.only(infoHash))
      while (cursor) {
        await tx.objectStore('pieces').delete(cursor.value.key)
        usage -= cursor.value.size
        await cursor.delete()
        cursor = await cursor.continue()
      }
      await tx.objectStore('meta').put(usage, USAGE_KEY)
      await tx.done
    },
    usageBytes,
  }
}

function isQuotaError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'QuotaExceededError'
}
