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
//
// Adjacent pieces of one asset written in the same batch share one record, a run (up to 1 MiB), and a
// write waits `gatherMs` for more pieces to come: each Blob costs the worker a call into the browser
// and the browser a file, whatever its size (Chromium, 20 MB stored as 64 KiB Blobs: 0.34
// CPU-seconds, as 1 MiB Blobs 0.11). Measured with bench:net, a fast crowd of 8 with P2P off (every
// byte over HTTP, every piece stored): 1.12-1.18x plain HTTP's load time against 1.30-1.44x with a
// record per piece, in alternating runs. A run's bytes live under their own key; each piece of it
// keeps its LRU record, which says where it is, and the pieces of a run are evicted and deleted
// together (a piece of a run put again is kept as it is). They have no record under their own key in
// 'pieces', so code that reads only that store (an older agent) sees them as missing, never as wrong
// bytes. Reads and `has` see pieces not yet written: for `gatherMs` they would look missing, and be
// fetched again.

import type { DBSchema, IDBPTransaction } from 'idb'
import { reopeningDb } from './reopening-db.ts'
import { pieceKey, type PieceStore } from './piece-store.ts'

interface PieceRecordMeta {
  key: string
  infoHash: string
  index: number
  size: number
  lastUsed: number
  /** Set when the piece's bytes are in a run record with its neighbours' (pieces first..first+count-1, `bytes` in all). */
  run?: RunInfo
}

interface RunInfo {
  first: number
  count: number
  bytes: number
  /** Where this piece starts in the run's bytes. */
  offset: number
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
/** Bytes of adjacent pieces stored as one record at most. */
const MAX_RUN_BYTES = 1024 * 1024
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
  /**
   * A write waits this long for more pieces to come, so adjacent ones share a record (see the top),
   * unless a run's worth is queued already. Default 250 ms: pieces come one by one, from HTTP bodies
   * and peers, and with no wait a batch held one or two of them.
   */
  gatherMs?: number
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

  // The LRU store has a record per stored piece, in a run or not.
  const storedKeys = options.indexKeys ? createKeyIndex(async () => (await (await open()).getAllKeys('lru')) as string[]) : null

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

  /** Deletes a stored piece, with the rest of its run if it is in one; returns the bytes freed. */
  function removeStored(tx: WriteTx, record: PieceRecordMeta): number {
    for (const key of keysStoredWith(record)) {
      quiet(tx.objectStore('lru').delete(key))
      storedKeys?.remove(key)
    }
    // The bytes: the run's record, or the piece's own (a piece of a run has none).
    quiet(tx.objectStore('pieces').delete(record.run ? runDataKey(record.infoHash, record.run) : record.key))
    return record.run ? record.run.bytes : record.size
  }

  /**
   * Deletes least-recently-used pieces until `usage <= target`, adding their assets to `evicted`;
   * returns the new usage. Never a piece in `keep`, nor the run it is in.
   */
  async function evictDownTo(tx: WriteTx, usage: number, target: number, evicted: Set<string>, keep: ReadonlySet<string>): Promise<number> {
    // Under budget (nearly every write): no cursor. Opening one per batch cost a crowd's service
    // workers 0.8 s of their 35 s (CPU profiles, bench:net crowd of 8).
    if (usage <= target) return usage
    let cursor = await tx.objectStore('lru').index('by-last-used').openCursor()
    while (cursor && usage > target) {
      const record = cursor.value
      if (!keysStoredWith(record).some((key) => keep.has(key))) {
        usage -= removeStored(tx, record) // a run's other pieces are gone before the cursor reaches them
        evicted.add(record.infoHash)
      }
      cursor = await cursor.continue()
    }
    return usage
  }

  /** Writes one run of adjacent pieces of an asset: a record of its own for a single piece, else one record of all their bytes. */
  function writeRun(tx: WriteTx, run: readonly QueuedWrite[]): void {
    const [{ infoHash, index: first }] = run
    const record = (parts: Uint8Array[]): StoredPiece => (blobRecords === false ? concatBytes(parts) : new Blob(parts as Uint8Array<ArrayBuffer>[]))
    const lru = tx.objectStore('lru')
    if (run.length === 1) {
      const [{ index, bytes }] = run
      quiet(tx.objectStore('pieces').put(record([bytes]), pieceKey(infoHash, index)))
      quiet(lru.put({ key: pieceKey(infoHash, index), infoHash, index, size: bytes.length, lastUsed: tick() }))
      return
    }
    const bytes = run.reduce((sum, write) => sum + write.bytes.length, 0)
    quiet(tx.objectStore('pieces').put(record(run.map((write) => write.bytes)), runDataKey(infoHash, { first, count: run.length })))
    let offset = 0
    for (const write of run) {
      quiet(lru.put({ key: pieceKey(infoHash, write.index), infoHash, index: write.index, size: write.bytes.length, lastUsed: tick(), run: { first, count: run.length, bytes, offset } }))
      offset += write.bytes.length
    }
  }

  /** Stores a batch of pieces in one transaction, evicting first to make room for all of them. */
  async function putBatch(batch: readonly QueuedWrite[]): Promise<void> {
    const tx = await writeTx()
    const lru = tx.objectStore('lru')
    // The last write of a key wins.
    const latest = new Map<string, QueuedWrite>()
    for (const write of batch) latest.set(pieceKey(write.infoHash, write.index), write)
    const keys = [...latest.keys()]
    const [stored, existing] = await Promise.all([tx.objectStore('meta').get(USAGE_KEY), Promise.all(keys.map((key) => lru.get(key)))])
    let usage = stored ?? 0
    const evicted = new Set<string>()
    // A piece stored on its own is replaced. One stored in a run is kept as it is: replacing it would
    // take its neighbours too, and a piece is checked against the manifest before it is stored, so
    // its key always holds the same bytes.
    const kept = new Set<string>()
    existing.forEach((record, i) => {
      if (record && !record.run) usage -= removeStored(tx, record)
      if (record?.run) {
        kept.add(keys[i])
        latest.delete(keys[i])
      }
    })
    const writes = [...latest.values()]
    const incoming = writes.reduce((sum, write) => sum + write.bytes.length, 0)
    // A kept piece was just asked to be stored: making room must not take it.
    usage = await evictDownTo(tx, usage, options.budgetBytes - incoming, evicted, kept)
    for (const run of adjacentRuns(writes, MAX_RUN_BYTES)) writeRun(tx, run)
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
    const after = await evictDownTo(tx, usage, Math.max(0, usage - bytes), evicted, new Set())
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

  // Group commit: writes queued while a transaction runs, or while the first of them waits, go together.
  let writeQueue: QueuedWrite[] = []
  /** The batch being written: taken off the queue, not committed yet. */
  let writingNow: readonly QueuedWrite[] = []
  /** A piece asked to be written and not committed yet (newest first): reads see it, or for `gatherMs` it would look missing and be fetched again. */
  function uncommitted(infoHash: string, index: number): QueuedWrite | undefined {
    // Asked on every read: no copy of the queues.
    for (const writes of [writeQueue, writingNow]) {
      for (let i = writes.length - 1; i >= 0; i--) if (writes[i].infoHash === infoHash && writes[i].index === index) return writes[i]
    }
    return undefined
  }
  let queuedBytes = 0
  let writing = false
  /** The batch being written, taken off the queue: a delete waits for it, or the batch could land after the delete. */
  let writingBatch: Promise<unknown> = Promise.resolve()
  const gatherMs = options.gatherMs ?? 250
  /** Ends the wait for more pieces: set while it lasts. */
  let endGather: (() => void) | undefined
  function enqueueWrite(write: QueuedWrite): void {
    writeQueue.push(write)
    queuedBytes += write.bytes.length
    if (queuedBytes >= MAX_RUN_BYTES) endGather?.()
    void drainWrites()
  }
  async function drainWrites(): Promise<void> {
    if (writing) return
    writing = true
    try {
      while (writeQueue.length > 0) {
        if (gatherMs > 0 && queuedBytes < MAX_RUN_BYTES) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, gatherMs)
            endGather = () => (clearTimeout(timer), resolve())
          })
          endGather = undefined
          if (writeQueue.length === 0) break // all dropped meanwhile (deleteAsset)
        }
        let bytes = 0
        let count = 0
        while (count < writeQueue.length && (count === 0 || bytes + writeQueue[count].bytes.length <= MAX_WRITE_BATCH_BYTES)) bytes += writeQueue[count++].bytes.length
        const batch = writeQueue.slice(0, count)
        writeQueue = writeQueue.slice(count)
        queuedBytes -= bytes
        writingNow = batch
        const written = (async () => {
          try {
            await flushTouches()
            await putBatch(batch)
            writingNow = [] // committed: reads go to the database (before the writers hear, who may reuse their buffers)
            for (const write of batch) write.resolve(true)
          } catch {
            writingNow = []
            // One bad write (quota, a closed connection) must not fail its neighbours: each alone.
            for (const write of batch) write.resolve(await putAlone(write))
          }
        })()
        writingBatch = written
        await written
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
      const tx = (await open()).transaction(['pieces', 'lru'], 'readonly')
      const pieces = tx.objectStore('pieces')
      const lru = tx.objectStore('lru')
      // Each read is answered as it arrives: a reader starts on the first piece, not the last.
      await Promise.all(
        batch.map(async (read) => {
          // Both at once: a piece of its own, or where in a run its bytes are.
          const [own, record] = await Promise.all([pieces.get(read.key), lru.get(read.key)])
          const value = own ?? (record?.run ? sliceRun(await pieces.get(runDataKey(record.infoHash, record.run)), record.run.offset, record.size) : undefined)
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
    const pending = uncommitted(infoHash, index)
    if (pending) return pending.bytes.slice() // its own copy: the writer's buffer is not the reader's
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
      return new Promise((resolve) => enqueueWrite({ infoHash, index, bytes, resolve }))
    },
    async has(infoHash, index) {
      if (uncommitted(infoHash, index)) return true
      if (await knownMissing(infoHash, index)) return false
      try {
        // The LRU record: a piece in a run has no record of its own in 'pieces'; one written by an
        // earlier version (or a test) may lack an LRU record.
        const db = await open()
        const key = pieceKey(infoHash, index)
        return (await db.getKey('lru', key)) !== undefined || (await db.getKey('pieces', key)) !== undefined
      } catch {
        return false
      }
    },
    async deleteAsset(infoHash) {
      // Writes of the asset still queued are dropped, and one being written lands first: a write asked
      // for before the delete must not bring the asset back after it.
      writeQueue = writeQueue.filter((write) => write.infoHash !== infoHash || (write.resolve(false), (queuedBytes -= write.bytes.length), false))
      if (writeQueue.length === 0) endGather?.()
      await writingBatch
      const tx = await writeTx()
      let usage = (await tx.objectStore('meta').get(USAGE_KEY)) ?? 0
      let cursor = await tx.objectStore('lru').index('by-info-hash').openCursor(IDBKeyRange.only(infoHash))
      while (cursor) {
        usage -= removeStored(tx, cursor.value) // a run's other pieces are gone before the cursor reaches them
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

/** The key of a run's bytes: apart from the pieces' own keys, so nothing counts it as a piece. */
function runDataKey(infoHash: string, run: Pick<RunInfo, 'first' | 'count'>): string {
  return `run:${infoHash}:${run.first}+${run.count}`
}

/** The keys of the pieces stored and removed together with this one: its run's, or its own. */
function keysStoredWith(record: PieceRecordMeta): string[] {
  const { run } = record
  return run ? Array.from({ length: run.count }, (_, i) => pieceKey(record.infoHash, run.first + i)) : [record.key]
}

/** Splits writes into runs of adjacent pieces of one asset, in index order, each at most `maxBytes` (or one piece). */
function adjacentRuns<T extends { infoHash: string; index: number; bytes: Uint8Array }>(writes: readonly T[], maxBytes: number): T[][] {
  const sorted = [...writes].sort((a, b) => (a.infoHash < b.infoHash ? -1 : a.infoHash > b.infoHash ? 1 : a.index - b.index))
  const runs: T[][] = []
  let bytes = 0
  for (const write of sorted) {
    const run = runs.at(-1)
    const last = run?.at(-1)
    if (run && last && last.infoHash === write.infoHash && last.index + 1 === write.index && bytes + write.bytes.length <= maxBytes) {
      run.push(write)
      bytes += write.bytes.length
    } else {
      runs.push([write])
      bytes = write.bytes.length
    }
  }
  return runs
}

/** One piece's bytes out of its run's record (a Blob slice: no bytes copied); undefined when the run's record is gone. */
function sliceRun(data: StoredPiece | undefined, offset: number, size: number): StoredPiece | undefined {
  return data?.slice(offset, offset + size)
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    all.set(part, offset)
    offset += part.length
  }
  return all
}

/** A request inside a transaction whose failure is reported by awaiting `tx.done`. */
function quiet(request: Promise<unknown>): void {
  request.catch(() => undefined)
}

function isQuotaError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'QuotaExceededError'
}
