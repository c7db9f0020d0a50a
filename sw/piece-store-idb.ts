// PieceStore on IndexedDB (idb). Piece bytes and their LRU bookkeeping live in separate object stores,
// so touching a piece on read rewrites a small record, not the bytes. Usage is a counter updated in
// the same transaction as every write, so it stays right across SW restarts and other contexts.
//
// Speed (issue 11, measured with `npm run bench:sw`): one transaction per piece made a warm page
// several times slower than Cache Storage. So reads asked in the same task share one read-only
// transaction, LRU touches are written later in one batch, and writes queued while a write
// transaction runs are committed together in the next one. Transactions are 'relaxed': the store is
// a cache, and a crash that loses the last writes costs a download, never a wrong byte (a piece read
// is verified again, before it is served or, on the warm path for passive media, right after).
//
// Pieces are stored as Blobs (records written before that hold a Uint8Array; both are read): the
// browser keeps a Blob's bytes in a file and hands out a handle, so a response built from stored
// Blobs reaches the page without its bytes passing through the worker (measured, stored-response.ts).
// Where a Blob cannot be stored (WebKitGTK's service workers refuse them), pieces are stored as bytes.

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
  pieces: { key: string; value: StoredPiece }
  lru: { key: string; value: PieceRecordMeta; indexes: { 'by-last-used': number; 'by-info-hash': string } }
  meta: { key: string; value: number }
}

/** A piece record: a Blob, or a Uint8Array in records written by earlier versions. */
type StoredPiece = Blob | Uint8Array

type WriteTx = IDBPTransaction<PieceDB, ('pieces' | 'lru' | 'meta')[], 'readwrite'>

const USAGE_KEY = 'usageBytes'
/** Bytes committed in one write transaction at most: bounds what a batch holds in memory. */
const MAX_WRITE_BATCH_BYTES = 16 * 1024 * 1024
/** LRU touches wait this long, so a page's reads are not slowed by bookkeeping writes. */
const TOUCH_DELAY_MS = 1000

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
  /**
   * Use the database only once it exists; never create or upgrade it (reopening-db.ts). For pages: the
   * SW owns the database, and a page frozen in the back/forward cache while creating it blocks it for
   * everyone. Until it exists, reads miss. Default false.
   */
  existingOnly?: boolean
  /**
   * Told, after the transaction committed, which assets lost pieces to eviction: their whole copies
   * (asset-copies.ts) must go too, or they would outlive the budget. Default: nobody is told.
   */
  onEvicted?: (infoHashes: ReadonlySet<string>) => void
  /**
   * For the database's one writer (the SW): keep the stored pieces' keys in memory (loaded once), so a
   * read or `has` of a piece not stored answers at once instead of opening a transaction, which waits
   * behind every write transaction begun before it (measured on the emulated internet, visitors with
   * peers: a response's first batch was planned a median 10 ms after its request, at most 62 ms,
   * against 40 ms and at most 151 ms with every miss looked up; 0.45-0.8 s while many pieces were
   * being written).
   * Not for readers beside a writer (the page's agent): keys written elsewhere would look missing.
   * Default false.
   */
  indexKeys?: boolean
}

interface QueuedRead {
  key: string
  resolve(value: StoredPiece | undefined): void
}

interface QueuedWrite {
  infoHash: string
  index: number
  bytes: Uint8Array
  resolve(stored: boolean): void
}

export function createIdbPieceStore(options: IdbPieceStoreOptions): PieceStore {
  const now = options.now ?? Date.now
  let lastTick = 0
  let persistenceAsked = false
  /** Whether Blob records can be written here: unknown until the first write transaction settles. */
  let blobRecords: boolean | undefined

  const open = reopeningDb<PieceDB>(options.dbName ?? 'swarmcdn-pieces', 1, (database) => {
    database.createObjectStore('pieces')
    const lru = database.createObjectStore('lru', { keyPath: 'key' })
    lru.createIndex('by-last-used', 'lastUsed')
    lru.createIndex('by-info-hash', 'infoHash')
    database.createObjectStore('meta')
  }, { existingOnly: options.existingOnly })

  const storedKeys = options.indexKeys ? createKeyIndex(async () => (await (await open()).getAllKeys('pieces')) as string[]) : null

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
    const tx = (await open()).transaction(['pieces', 'lru', 'meta'], 'readwrite', { durability: 'relaxed' })
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

  /** Tells onEvicted, once the eviction is committed. */
  function reportEvicted(infoHashes: ReadonlySet<string>): void {
    if (infoHashes.size === 0) return
    try {
      options.onEvicted?.(infoHashes)
    } catch {
      // A listener's failure must not fail the write.
    }
  }

  /** Deletes least-recently-used pieces until `usage <= target`, adding their assets to `evicted`; returns the new usage. */
  async function evictDownTo(tx: WriteTx, usage: number, target: number, evicted: Set<string>, keep?: ReadonlySet<string>): Promise<number> {
    // Under budget (nearly every write): no cursor. Opening one per batch cost a crowd's service
    // workers 0.8 s of their 35 s (CPU profiles, bench:net crowd of 8).
    if (usage <= target) return usage
    let cursor = await tx.objectStore('lru').index('by-last-used').openCursor()
    while (cursor && usage > target) {
      const record = cursor.value
      if (!keep?.has(record.key)) {
        quiet(tx.objectStore('pieces').delete(record.key))
        storedKeys?.remove(record.key)
        quiet(cursor.delete())
        usage -= record.size
        evicted.add(record.infoHash)
      }
      cursor = await cursor.continue()
    }
    return usage
  }

  /** Stores a batch of pieces in one transaction, evicting first to make room for all of them. */
  async function putBatch(batch: readonly QueuedWrite[]): Promise<void> {
    const tx = await writeTx()
    const lru = tx.objectStore('lru')
    const keys = batch.map((write) => pieceKey(write.infoHash, write.index))
    const [stored, existing] = await Promise.all([tx.objectStore('meta').get(USAGE_KEY), Promise.all(keys.map((key) => lru.get(key)))])
    let usage = stored ?? 0
    let incoming = 0
    const seen = new Set<string>()
    batch.forEach((write, i) => {
      if (existing[i] && !seen.has(keys[i])) usage -= existing[i]!.size
      if (!seen.has(keys[i])) incoming += write.bytes.length
      seen.add(keys[i])
    })
    const evicted = new Set<string>()
    usage = await evictDownTo(tx, usage, options.budgetBytes - incoming, evicted, seen)
    batch.forEach((write, i) => {
      quiet(tx.objectStore('pieces').put(blobRecords === false ? write.bytes : new Blob([write.bytes as Uint8Array<ArrayBuffer>]), keys[i]))
      quiet(lru.put({ key: keys[i], infoHash: write.infoHash, index: write.index, size: write.bytes.length, lastUsed: tick() }))
    })
    quiet(tx.objectStore('meta').put(usage + incoming, USAGE_KEY))
    try {
      await tx.done
      blobRecords ??= true
      for (const key of keys) storedKeys?.add(key)
      reportEvicted(evicted)
    } catch (error) {
      if (blobRecords !== undefined) throw error
      // The first write failed: try once more with bytes, and keep to bytes if that works.
      blobRecords = false
      try {
        await putBatch(batch)
      } catch (retryError) {
        blobRecords = undefined
        throw retryError
      }
    }
  }

  async function evictBytes(bytes: number): Promise<void> {
    const tx = await writeTx()
    const usage = (await tx.objectStore('meta').get(USAGE_KEY)) ?? 0
    const evicted = new Set<string>()
    const after = await evictDownTo(tx, usage, Math.max(0, usage - bytes), evicted)
    await tx.objectStore('meta').put(after, USAGE_KEY)
    await tx.done
    reportEvicted(evicted)
  }

  /** A piece that could not be stored in a batch, alone, with one retry after making room on a quota error. */
  async function putAlone(write: QueuedWrite): Promise<boolean> {
    try {
      await putBatch([write])
      return true
    } catch (error) {
      if (!isQuotaError(error)) return false
    }
    // The browser's quota is below our budget: make room (the piece, or a tenth of what we hold) and retry once.
    try {
      await evictBytes(Math.max(write.bytes.length, Math.ceil((await usageBytes()) / 10)))
      await putBatch([write])
      return true
    } catch {
      return false
    }
  }

  // Group commit: writes queued while a transaction runs go together in the next one.
  let writeQueue: QueuedWrite[] = []
  let writing = false
  async function drainWrites(): Promise<void> {
    if (writing) return
    writing = true
    try {
      while (writeQueue.length > 0) {
        let bytes = 0
        let count = 0
        while (count < writeQueue.length && (count === 0 || bytes + writeQueue[count].bytes.length <= MAX_WRITE_BATCH_BYTES)) bytes += writeQueue[count++].bytes.length
        const batch = writeQueue.slice(0, count)
        writeQueue = writeQueue.slice(count)
        try {
          await flushTouches()
          await putBatch(batch)
          for (const write of batch) write.resolve(true)
        } catch {
          // One bad write (quota, a closed connection) must not fail its neighbours: each alone.
          for (const write of batch) write.resolve(await putAlone(write))
        }
      }
    } finally {
      writing = false
    }
  }

  // Reads asked in the same task share one read-only transaction.
  let readQueue: QueuedRead[] = []
  async function drainReads(): Promise<void> {
    const batch = readQueue
    readQueue = []
    try {
      const pieces = (await open()).transaction('pieces', 'readonly').objectStore('pieces')
      // Each read is answered as it arrives: a reader starts on the first piece, not the last.
      await Promise.all(
        batch.map(async (read) => {
          const value = await pieces.get(read.key)
          read.resolve(value)
          if (value !== undefined) touch([read.key])
        }),
      )
    } catch {
      for (const read of batch) read.resolve(undefined) // a broken store is a miss, never a failed response (resolving twice is harmless)
    }
  }

  // LRU touches, written later in one transaction.
  const touched = new Map<string, number>()
  let touchTimer: ReturnType<typeof setTimeout> | undefined
  function touch(keys: string[]): void {
    for (const key of keys) touched.set(key, tick())
    if (touched.size > 0 && touchTimer === undefined) touchTimer = setTimeout(() => void flushTouches(), TOUCH_DELAY_MS)
  }
  async function flushTouches(): Promise<void> {
    clearTimeout(touchTimer)
    touchTimer = undefined
    if (touched.size === 0) return
    const batch = [...touched]
    touched.clear()
    try {
      // Only the LRU records: a write transaction over 'pieces' would hold back every read meanwhile.
      const tx = (await open()).transaction('lru', 'readwrite', { durability: 'relaxed' })
      const lru = tx.objectStore('lru')
      const records = await Promise.all(batch.map(([key]) => lru.get(key)))
      records.forEach((record, i) => {
        if (record) quiet(lru.put({ ...record, lastUsed: batch[i][1] })) // gone: evicted or deleted since
      })
      await tx.done
    } catch {
      // LRU order is advisory; a lost touch only makes eviction a little less exact.
    }
  }

  /** Whether the key index says the piece is not stored: then no transaction is needed to know. */
  async function knownMissing(infoHash: string, index: number): Promise<boolean> {
    return !!storedKeys && !(await storedKeys.mayHold(pieceKey(infoHash, index)))
  }

  async function read(infoHash: string, index: number): Promise<StoredPiece | undefined> {
    if (await knownMissing(infoHash, index)) return undefined
    return new Promise((resolve) => {
      if (readQueue.length === 0) queueMicrotask(() => void drainReads())
      readQueue.push({ key: pieceKey(infoHash, index), resolve })
    })
  }

  return {
    async get(infoHash, index) {
      const value = await read(infoHash, index)
      if (!(value instanceof Blob)) return value
      try {
        return new Uint8Array(await value.arrayBuffer())
      } catch {
        return undefined // its file is gone (cleared storage): a miss
      }
    },
    async getBlob(infoHash, index) {
      const value = await read(infoHash, index)
      return value instanceof Blob || value === undefined ? value : new Blob([value as Uint8Array<ArrayBuffer>])
    },
    put(infoHash, index, bytes) {
      if (bytes.length > options.budgetBytes) return Promise.resolve(false)
      askPersistence()
      return new Promise((resolve) => {
        writeQueue.push({ infoHash, index, bytes, resolve })
        void drainWrites()
      })
    },
    async has(infoHash, index) {
      if (await knownMissing(infoHash, index)) return false
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
        quiet(tx.objectStore('pieces').delete(cursor.value.key))
        storedKeys?.remove(cursor.value.key)
        usage -= cursor.value.size
        quiet(cursor.delete())
        cursor = await cursor.continue()
      }
      await tx.objectStore('meta').put(usage, USAGE_KEY)
      await tx.done
    },
    usageBytes,
  }
}

/**
 * The keys of the stored pieces, in memory. A key it lacks is taken as not stored: every committed
 * write adds its keys, including those that commit while the index loads (an eviction in a
 * transaction that then aborts leaves a piece it lacks: fetched again, never a wrong byte). A key it
 * has is read from the database, which may still miss. Until loaded, and if loading fails, every key
 * may be held.
 */
function createKeyIndex(load: () => Promise<string[]>) {
  let known: Set<string> | null = null
  /** Keys committed while the index loads: the snapshot may predate them. */
  let addedWhileLoading: string[] | null = []
  const loading = load().then(
    (all) => {
      known = new Set(all)
      for (const key of addedWhileLoading!) known.add(key)
    },
    () => undefined, // unknown for good: every read goes to the database
  ).finally(() => (addedWhileLoading = null))
  return {
    async mayHold(key: string): Promise<boolean> {
      if (!known) await loading
      return !known || known.has(key)
    },
    add(key: string): void {
      known?.add(key)
      addedWhileLoading?.push(key)
    },
    remove(key: string): void {
      known?.delete(key)
    },
  }
}

/** A request inside a transaction whose failure is reported by awaiting `tx.done`. */
function quiet(request: Promise<unknown>): void {
  request.catch(() => undefined)
}

function isQuotaError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'QuotaExceededError'
}
