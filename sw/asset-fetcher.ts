// The heart: pieces of one asset, in order, each verified, from the cheapest place that has them.
//
// For each piece: store hit (re-verified) → use it; miss → the scheduler (piece-scheduler.ts) picks
// peers or HTTP per piece. Verified pieces are stored in the background. Concurrent requests share one download per piece (keyed infoHash:index). Pieces are
// fetched a bounded window ahead of the reader, so a cancelled `bytes=0-` video request does not
// download the whole file.

import type { ManifestAsset } from '../core/manifest-format.ts'
import { pieceCount } from '../core/piece-math.ts'
import type { SwConfig } from './config.ts'
import { SwError, toSwError } from './errors.ts'
import { SOURCE_ORDER, type SourceName } from './piece-source.ts'
import { pieceKey, type PieceStore } from './piece-store.ts'
import { schedulePieces, type SchedulerDeps } from './piece-scheduler.ts'

export interface DeliveredPiece {
  index: number
  /** Verified bytes. */
  bytes: Uint8Array
  source: SourceName
}

export interface PieceCursor {
  /** Next piece in order, or null after the last. Rejects (SwError) when no source could deliver it. */
  next(): Promise<DeliveredPiece | null>
  /** Settles once the first pieces' sources are planned (their store lookup is done). */
  planned(): Promise<void>
  /** Sources that served or are fetching the pieces scheduled so far, in SOURCE_ORDER. */
  plannedSources(): SourceName[]
  /** Stops scheduling more pieces; downloads under way finish into the store. */
  cancel(): void
  /** Settles when every download this cursor started has ended and its store writes have settled. */
  settled(): Promise<void>
}

export interface OpenOptions {
  clientId?: string
}

export interface AssetFetcher {
  /** Pieces first..last (inclusive) of the asset, in order. */
  open(asset: ManifestAsset, first: number, last: number, options?: OpenOptions): PieceCursor
  /** A download of this piece (or its store write) is under way. */
  busy(infoHash: string, index: number): boolean
  /** Diagnostics: how long readers waited for the store to catch up (read-ahead paused), and the most bytes waiting for it. */
  writeBackpressure(): WriteBackpressure
}

export interface WriteBackpressure {
  /** Summed over readers: time a reader's next piece waited for room among pending store writes. */
  readerWaitMs: number
  maxPendingWriteBytes: number
}

export interface AssetFetcherDeps {
  store: PieceStore
  /** Peers, HTTP and the rules between them for the pieces the store lacks. */
  scheduler: SchedulerDeps
  config: Pick<SwConfig, 'readAheadBytes' | 'readAheadAloneBytes'>
}

/** Verified pieces waiting for the store, across every cursor, before read-ahead pauses: bounds memory when the store is slower than the sources. */
export const MAX_PENDING_WRITE_BYTES = 16 * 1024 * 1024

/** The first batch of a response: small, so its first byte waits only for a few pieces. */
const HEAD_BATCH_BYTES = 1024 * 1024

interface PieceSlot {
  promise: Promise<DeliveredPiece>
  resolve(piece: DeliveredPiece): void
  reject(error: SwError): void
  settled: boolean
  /** Who delivered it, or who is being asked now. */
  source?: SourceName
}

function createSlot(): PieceSlot {
  let resolve!: (piece: DeliveredPiece) => void
  let reject!: (error: SwError) => void
  const promise = new Promise<DeliveredPiece>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => undefined) // a slot nobody awaits (cancelled reader) must not be an unhandled rejection
  const slot: PieceSlot = {
    promise,
    settled: false,
    resolve(piece) {
      slot.settled = true
      slot.source = piece.source
      resolve(piece)
    },
    reject(error) {
      slot.settled = true
      reject(error)
    },
  }
  return slot
}

export function createAssetFetcher(deps: AssetFetcherDeps): AssetFetcher {
  const verify = deps.scheduler.verify
  /** Pieces being fetched (or whose store write is pending), shared by every cursor. */
  const inflight = new Map<string, PieceSlot>()
  let pendingWriteBytes = 0
  let writeWaiters: Array<() => void> = []
  const backpressure: WriteBackpressure = { readerWaitMs: 0, maxPendingWriteBytes: 0 }
  const roomForWrites = async () => {
    if (pendingWriteBytes <= MAX_PENDING_WRITE_BYTES) return
    const since = performance.now()
    await new Promise<void>((resolve) => writeWaiters.push(resolve))
    backpressure.readerWaitMs += performance.now() - since
  }
  const wroteBytes = (bytes: number) => {
    pendingWriteBytes -= bytes
    if (pendingWriteBytes > MAX_PENDING_WRITE_BYTES) return
    const waiters = writeWaiters
    writeWaiters = []
    for (const wake of waiters) wake()
  }

  /** Claims the pieces nobody is fetching, then fills them from the store and the sources. */
  async function fetchBatch(asset: ManifestAsset, indexes: number[], slots: Map<number, PieceSlot>, options: OpenOptions, lookedUp: () => void): Promise<void> {
    const mine = new Map<number, PieceSlot>()
    for (const index of indexes) {
      const key = pieceKey(asset.infoHash, index)
      let slot = inflight.get(key)
      if (!slot) {
        slot = createSlot()
        inflight.set(key, slot)
        mine.set(index, slot)
      }
      slots.set(index, slot)
    }
    if (mine.size === 0) return lookedUp()
    const writes: Promise<unknown>[] = []

    const deliver = (index: number, bytes: Uint8Array, source: SourceName) => {
      const slot = mine.get(index)
      if (!slot || slot.settled) return
      slot.resolve({ index, bytes, source })
      const key = pieceKey(asset.infoHash, index)
      if (source === 'store') {
        inflight.delete(key)
        return
      }
      // Stays in flight until stored, so a request arriving meanwhile does not download it again.
      pendingWriteBytes += bytes.length
      backpressure.maxPendingWriteBytes = Math.max(backpressure.maxPendingWriteBytes, pendingWriteBytes)
      writes.push(
        deps.store
          .put(asset.infoHash, index, bytes)
          .catch(() => false)
          .finally(() => {
            inflight.delete(key)
            wroteBytes(bytes.length)
          }),
      )
    }

    try {
      // One store lookup for the batch (reads of one task share a transaction). Each hit is re-verified
      // and delivered as soon as it arrives, so the reader starts on the first piece, not on the whole
      // window; the misses go to the scheduler once the batch is looked up (a response's header waits
      // for that: PieceCursor.planned). Re-verified: nothing reaches a response unverified, whoever
      // wrote the store.
      const indexes = [...mine.keys()]
      const found = await Promise.all(
        indexes.map(async (index) => {
          const bytes = await deps.store.get(asset.infoHash, index).catch(() => undefined)
          if (!bytes) return { index, hit: false, ok: Promise.resolve(false) }
          const ok = verify(asset, index, bytes).then((verdict) => {
            if (verdict.ok) deliver(index, bytes, 'store')
            return verdict.ok
          }, () => false)
          return { index, hit: true, ok }
        }),
      )
      const verifying = found.map(async ({ index, hit, ok }) => (hit && !(await ok) ? index : null))
      const scheduleMissing = (missing: number[]) =>
        schedulePieces(deps.scheduler, asset, missing.sort((a, b) => a - b), {
          deliver,
          fail(index, error) {
            const slot = mine.get(index)!
            slot.reject(error)
            inflight.delete(pieceKey(asset.infoHash, index))
          },
          assigned(index, source) {
            const slot = mine.get(index)
            if (slot && !slot.settled) slot.source = source
          },
        }, options.clientId)
      const misses = scheduleMissing(found.filter(({ hit }) => !hit).map(({ index }) => index))
      lookedUp()
      // A stored piece that fails its check (a store written by something else) is fetched again.
      const badHits = (await Promise.all(verifying)).filter((index): index is number => index !== null)
      await Promise.all([misses, scheduleMissing(badHits)])
    } catch (error) {
      lookedUp()
      for (const [index, slot] of mine) {
        if (!slot.settled) {
          slot.reject(toSwError(error))
          inflight.delete(pieceKey(asset.infoHash, index))
        }
      }
    }
    await Promise.allSettled(writes)
  }

  return {
    busy: (infoHash, index) => inflight.has(pieceKey(infoHash, index)),
    writeBackpressure: () => ({ ...backpressure, readerWaitMs: Math.round(backpressure.readerWaitMs) }),
    open(asset, first, last, options = {}) {
      const slots = new Map<number, PieceSlot>()
      const work: Promise<void>[] = []
      // Alone (no peers, P2P off, or the tracker knew nobody) the larger window: see readAheadAloneBytes.
      const piecesIn = (bytes: number) => Math.max(1, Math.floor(bytes / asset.pieceLength))
      const isAlone = () => !(deps.scheduler.peers?.crowd(options.clientId) ?? false)
      const lastIndex = Math.min(last, pieceCount(asset.length, asset.pieceLength) - 1)
      let nextIndex = first
      let scheduledUpTo = first - 1
      let cancelled = false
      const served = new Set<SourceName>()

      // The first piece's plan is known once the head batch is looked up (see PieceCursor.planned).
      let headLookedUp!: () => void
      const headPlanned = new Promise<void>((resolve) => (headLookedUp = resolve))
      const schedule = (from: number, to: number, lookedUp: () => void) => {
        const batch: number[] = []
        for (let index = from; index <= to; index++) batch.push(index)
        if (batch.length > 0) work.push(fetchBatch(asset, batch, slots, options, lookedUp))
        else lookedUp()
      }

      /** Scheduled pieces ahead of the reader that no source has delivered yet. */
      const undeliveredAhead = () => {
        let count = 0
        for (let index = nextIndex; index <= scheduledUpTo; index++) if (!slots.get(index)?.settled) count++
        return count
      }

      // Keeps at least half a window scheduled ahead of the reader, topping up a whole window at a time
      // so Range requests stay large; read-ahead pauses while the store is behind (bounded memory). The
      // first window is split: a small head batch, so the response starts as soon as its first pieces
      // are looked up and verified, not the whole window (measured: 200 ms for an 8 MiB window).
      // With peers, the next window also comes once half of this one has arrived, however far back the
      // reader is: peers give a window's front and HTTP its far end, so the reader moves at the peers'
      // pace, and a next window that waited for it left HTTP one run at the page's end (bench:net, fast
      // origin: the film's last window was planned 3.2-5.3 s after navigation, and its one run took the
      // last 1-1.5 s alone). Never more than readAheadAloneBytes ahead: what arrived waits in memory.
      const topUp = (force = false) => {
        if (cancelled || scheduledUpTo >= lastIndex) return
        if (!force && pendingWriteBytes > MAX_PENDING_WRITE_BYTES) return
        const alone = isAlone()
        const window = piecesIn(alone ? deps.config.readAheadAloneBytes : deps.config.readAheadBytes)
        const ahead = scheduledUpTo - nextIndex + 1
        const readerNear = ahead <= window / 2
        const arrivedAhead = !alone && ahead + window <= piecesIn(deps.config.readAheadAloneBytes) && undeliveredAhead() <= window / 2
        if (!readerNear && !arrivedAhead) return
        const to = Math.min(lastIndex, readerNear ? nextIndex + window - 1 : scheduledUpTo + window)
        const from = scheduledUpTo + 1
        if (scheduledUpTo < first) {
          const headTo = Math.min(to, first + piecesIn(HEAD_BATCH_BYTES) - 1)
          schedule(first, headTo, headLookedUp)
          schedule(headTo + 1, to, () => undefined)
        } else schedule(from, to, () => undefined)
        scheduledUpTo = to
        for (let index = Math.max(first, from); index <= to; index++) slots.get(index)?.promise.then(arrived, arrived)
      }
      const arrived = () => topUp()

      return {
        async next() {
          if (nextIndex > lastIndex || cancelled) return null
          if (!slots.has(nextIndex)) {
            await roomForWrites()
            if (cancelled) return null
            topUp(true)
          } else topUp()
          const slot = slots.get(nextIndex)
          if (!slot) throw new SwError('internal', `piece ${nextIndex} was not scheduled`)
          slots.delete(nextIndex) // the reader has it: a long stream must not keep what it has served
          nextIndex++
          const piece = await slot.promise
          served.add(piece.source)
          topUp()
          return piece
        },
        planned: () => headPlanned,
        plannedSources() {
          const names = new Set<SourceName>(served)
          for (const slot of slots.values()) if (slot.source) names.add(slot.source)
          return SOURCE_ORDER.filter((name) => names.has(name))
        },
        cancel() {
          cancelled = true
        },
        async settled() {
          await Promise.allSettled(work)
        },
      }
    },
  }
}
