// The heart: pieces of one asset, in order, each verified, from the cheapest place that has them.
//
// For each piece: store hit → use it; miss → sources in priority order (peers with a per-piece
// deadline, then the webseed, which picks up exactly the pieces still missing). A source that fails
// or sends a bad piece hands the rest to the next source. Verified pieces are stored in the
// background. Concurrent requests share one download per piece (keyed infoHash:index). Pieces are
// fetched a bounded window ahead of the reader, so a cancelled `bytes=0-` video request does not
// download the whole file.

import type { ManifestAsset } from '../core/manifest-format.ts'
import { pieceCount } from '../core/piece-math.ts'
import type { SwConfig } from './config.ts'
import { SwError, toSwError } from './errors.ts'
import { SOURCE_ORDER, type PieceSource, type SourceName } from './piece-source.ts'
import { pieceKey, type PieceStore } from './piece-store.ts'
import { verifyPiece, type PieceVerdict, type PieceVerifier } from './piece-verifier.ts'

export interface DeliveredPiece {
  index: number
  /** Verified bytes. */
  bytes: Uint8Array
  source: SourceName
}

/** A source with its place in the chain; deadlineMs is per piece (time allowed until its next piece). */
export interface SourceTier {
  source: PieceSource
  deadlineMs?: number
}

export interface PieceCursor {
  /** Next piece in order, or null after the last. Rejects (SwError) when no source could deliver it. */
  next(): Promise<DeliveredPiece | null>
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
}

export interface AssetFetcherDeps {
  store: PieceStore
  /** Priority order, e.g. [{ source: peers, deadlineMs: config.pieceDeadlineMs }, { source: webseed }]. */
  sources: () => readonly SourceTier[]
  config: Pick<SwConfig, 'readAheadBytes'>
  verify?: PieceVerifier
  /** Timer for deadlines; default setTimeout. Returns a cancel function. */
  setTimer?: (callback: () => void, ms: number) => () => void
  /** Told about every piece a source sent that failed verification. */
  onPieceRejected?: (asset: ManifestAsset, index: number, source: SourceName, verdict: PieceVerdict) => void
}

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

const defaultSetTimer = (callback: () => void, ms: number) => {
  const timer = setTimeout(callback, ms)
  return () => clearTimeout(timer)
}

const DEADLINE = Symbol('deadline')

export function createAssetFetcher(deps: AssetFetcherDeps): AssetFetcher {
  const verify = deps.verify ?? verifyPiece
  const setTimer = deps.setTimer ?? defaultSetTimer
  /** Pieces being fetched (or whose store write is pending), shared by every cursor. */
  const inflight = new Map<string, PieceSlot>()

  /** Claims the pieces nobody is fetching, then fills them from the store and the sources. */
  async function fetchBatch(asset: ManifestAsset, indexes: number[], slots: Map<number, PieceSlot>, options: OpenOptions): Promise<void> {
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
    if (mine.size === 0) return
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
      writes.push(
        deps.store
          .put(asset.infoHash, index, bytes)
          .catch(() => false)
          .finally(() => inflight.delete(key)),
      )
    }

    try {
      const found = await Promise.all(
        [...mine.keys()].map(async (index) => {
          const bytes = await deps.store.get(asset.infoHash, index).catch(() => undefined)
          // Re-verified: nothing reaches a response unverified, whoever wrote the store.
          return { index, bytes: bytes && (await verify(asset, index, bytes)).ok ? bytes : undefined }
        }),
      )
      // Hits are delivered once the whole batch is looked up, and sources are assigned to the misses
      // synchronously after, so a reader woken by the first piece sees the full plan.
      const missing: number[] = []
      for (const { index, bytes } of found) {
        if (bytes) deliver(index, bytes, 'store')
        else missing.push(index)
      }
      missing.sort((a, b) => a - b)
      await fetchFromSources(asset, missing, deliver, mine, options)
    } catch (error) {
      for (const [index, slot] of mine) {
        if (!slot.settled) {
          slot.reject(toSwError(error))
          inflight.delete(pieceKey(asset.infoHash, index))
        }
      }
    }
    await Promise.allSettled(writes)
  }

  /** Asks each source in turn for the pieces still missing; rejects what none could deliver. */
  async function fetchFromSources(
    asset: ManifestAsset,
    indexes: number[],
    deliver: (index: number, bytes: Uint8Array, source: SourceName) => void,
    slots: Map<number, PieceSlot>,
    options: OpenOptions,
  ): Promise<void> {
    const remaining = new Set(indexes)
    let lastError: SwError | undefined
    for (const tier of deps.sources()) {
      if (remaining.size === 0) break
      if (tier.source.isAvailable && !tier.source.isAvailable(options.clientId)) continue
      for (const index of remaining) slots.get(index)!.source = tier.source.name
      try {
        const rejection = await fetchFromSource(asset, tier, remaining, deliver, options)
        if (remaining.size > 0) {
          lastError =
            rejection ??
            (tier.deadlineMs !== undefined
              ? new SwError('source-timeout', `${tier.source.name}: ${remaining.size} pieces missed the deadline`)
              : new SwError('no-source', `${tier.source.name} did not deliver ${remaining.size} pieces`))
        }
      } catch (error) {
        lastError = toSwError(error) // a source failing mid-way: the rest go to the next source
      }
    }
    if (remaining.size === 0) return
    const error = lastError ?? new SwError('no-source', `no source for ${remaining.size} pieces of ${asset.path}`)
    for (const index of remaining) {
      const slot = slots.get(index)!
      slot.reject(error)
      inflight.delete(pieceKey(asset.infoHash, index))
    }
  }

  /**
   * Consumes one source until it ends, fails (throws), misses its deadline or has delivered everything.
   * Returns the error of the last piece it sent that failed verification, if any.
   */
  async function fetchFromSource(
    asset: ManifestAsset,
    tier: SourceTier,
    remaining: Set<number>,
    deliver: (index: number, bytes: Uint8Array, source: SourceName) => void,
    options: OpenOptions,
  ): Promise<SwError | undefined> {
    const { source, deadlineMs } = tier
    let rejection: SwError | undefined
    const controller = new AbortController()
    let cancelTimer: (() => void) | undefined
    let onDeadline: (value: typeof DEADLINE) => void = () => undefined
    const deadline = new Promise<typeof DEADLINE>((resolve) => (onDeadline = resolve))
    const armDeadline = () => {
      if (deadlineMs === undefined) return
      cancelTimer?.()
      cancelTimer = setTimer(() => onDeadline(DEADLINE), deadlineMs)
    }
    const iterator = source
      .fetchPieces(asset, [...remaining].sort((a, b) => a - b), { signal: controller.signal, deadlineMs, clientId: options.clientId })
      [Symbol.asyncIterator]()
    armDeadline()
    try {
      while (remaining.size > 0) {
        const next = iterator.next()
        next.catch(() => undefined) // may lose the race against the deadline
        const result = deadlineMs === undefined ? await next : await Promise.race([next, deadline])
        if (result === DEADLINE || result.done) break
        const { index, bytes, from } = result.value
        if (!remaining.has(index)) continue // not asked, or already delivered
        const verdict = await verify(asset, index, bytes)
        source.onPieceVerdict?.(asset, index, verdict)
        if (!verdict.ok) {
          deps.onPieceRejected?.(asset, index, source.name, verdict)
          rejection = new SwError(verdict.code, `${source.name} sent a bad piece ${index} of ${asset.path}`)
          continue // never stored, never served; stays missing for the next source
        }
        remaining.delete(index)
        deliver(index, bytes, from ?? source.name)
        armDeadline()
      }
      return rejection
    } finally {
      cancelTimer?.()
      controller.abort()
      void iterator.return?.()?.catch(() => undefined)
    }
  }

  return {
    open(asset, first, last, options = {}) {
      const slots = new Map<number, PieceSlot>()
      const work: Promise<void>[] = []
      const windowPieces = Math.max(1, Math.floor(deps.config.readAheadBytes / asset.pieceLength))
      const lastIndex = Math.min(last, pieceCount(asset.length, asset.pieceLength) - 1)
      let nextIndex = first
      let scheduledUpTo = first - 1
      let cancelled = false

      // Keeps at least half a window scheduled ahead of the reader, topping up a whole window at a time
      // so Range requests stay large.
      const topUp = () => {
        if (cancelled || scheduledUpTo >= lastIndex) return
        if (scheduledUpTo - nextIndex + 1 > windowPieces / 2) return
        const to = Math.min(lastIndex, nextIndex + windowPieces - 1)
        const batch: number[] = []
        for (let index = scheduledUpTo + 1; index <= to; index++) batch.push(index)
        scheduledUpTo = to
        if (batch.length > 0) work.push(fetchBatch(asset, batch, slots, options))
      }

      return {
        async next() {
          if (nextIndex > lastIndex || cancelled) return null
          topUp()
          const slot = slots.get(nextIndex)
          if (!slot) throw new SwError('internal', `piece ${nextIndex} was not scheduled`)
          nextIndex++
          const piece = await slot.promise
          topUp()
          return piece
        },
        plannedSources() {
          const names = new Set<SourceName>()
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
