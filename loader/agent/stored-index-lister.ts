// Lists which pieces of an asset the shared store holds, in one IndexedDB index query instead of one
// lookup per piece. It reads the SW piece store's schema (sw/piece-store-idb.ts: object store 'lru',
// index 'by-info-hash', records { index }); if that schema is not there it falls back to `has` per piece.
// TODO(sw): replace with PieceStore.indexesOf once sw/piece-store.ts has it.

import type { IDBPDatabase } from 'idb'
import type { PieceStore } from '../../sw/piece-store.ts'
import { reopeningDb } from '../../sw/reopening-db.ts'

export type IndexLister = (infoHash: string, pieceCount: number) => Promise<number[]>

export function createStoredIndexLister(pieces: PieceStore, dbName = 'swarmcdn-pieces'): IndexLister {
  // Only a database the SW has created: a page never creates or upgrades it (reopening-db.ts).
  const connect = reopeningDb(dbName, 1, () => undefined, { existingOnly: true })
  return async (infoHash, pieceCount) => {
    let database: IDBPDatabase
    try {
      database = (await connect()) as unknown as IDBPDatabase
    } catch {
      return [] // no database yet: nothing stored
    }
    if (!database.objectStoreNames.contains('lru')) return storedIndexes(pieces, infoHash, pieceCount)
    try {
      const records: Array<{ index?: unknown }> = await database.getAllFromIndex('lru', 'by-info-hash', IDBKeyRange.only(infoHash))
      return records
        .map((record) => record.index)
        .filter((index): index is number => Number.isSafeInteger(index) && (index as number) >= 0 && (index as number) < pieceCount)
        .sort((a, b) => a - b)
    } catch {
      return storedIndexes(pieces, infoHash, pieceCount)
    }
  }
}

/** Fallback: one `has` per piece, in batches. */
async function storedIndexes(pieces: PieceStore, infoHash: string, pieceCount: number): Promise<number[]> {
  const found: number[] = []
  const batch = 32
  for (let first = 0; first < pieceCount; first += batch) {
    const indexes = Array.from({ length: Math.min(batch, pieceCount - first) }, (_, i) => first + i)
    const present = await Promise.all(indexes.map((index) => pieces.has(infoHash, index)))
    indexes.forEach((index, i) => present[i] && found.push(index))
  }
  return found
}
