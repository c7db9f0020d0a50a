// The chunk store webtorrent writes to and serves peers from (abstract-chunk-store interface), backed by
// the SW's IndexedDB piece store: pieces are stored once and shared by the SW and every tab's agent.
// webtorrent checks a piece's SHA-1 before `put`, so `put` may write it where the SW reads it (the SW
// verifies again on every read anyway). `destroy` never deletes data: the pieces belong to the SW.

import type { PieceStore } from '../../sw/piece-store.ts'

type Callback<T = void> = (error: Error | null, value?: T) => void

export interface ChunkStoreGetOptions {
  offset?: number
  length?: number
}

export interface ChunkStore {
  readonly chunkLength: number
  put(index: number, buf: Uint8Array, cb?: Callback): void
  get(index: number, opts: ChunkStoreGetOptions | null | Callback<Uint8Array>, cb?: Callback<Uint8Array>): void
  close(cb?: Callback): void
  destroy(cb?: Callback): void
}

export type ChunkStoreConstructor = new (chunkLength: number, opts?: Record<string, unknown>) => ChunkStore

export type ChunkStoreErrorCode = 'chunk-store-closed' | 'chunk-missing' | 'chunk-length-invalid' | 'chunk-store-no-infohash'

export class ChunkStoreError extends Error {
  readonly code: ChunkStoreErrorCode
  constructor(code: ChunkStoreErrorCode, message: string) {
    super(message)
    this.name = 'ChunkStoreError'
    this.code = code
  }
}

export interface SharedChunkStoreOptions {
  /**
   * Pieces kept in memory when the piece store refuses them (over budget, quota), so the swarm can still be
   * served what webtorrent believes it has. Default 16.
   */
  memoryFallbackPieces?: number
}

/** A chunk store class for webtorrent's `store` option; pass `storeOpts: { infoHash }` (or it reads opts.torrent.infoHash). */
export function createSharedChunkStoreClass(pieces: PieceStore, options: SharedChunkStoreOptions = {}): ChunkStoreConstructor {
  const memoryFallbackPieces = options.memoryFallbackPieces ?? 16

  return class SharedPieceChunkStore implements ChunkStore {
    readonly chunkLength: number
    private readonly infoHash: string
    private readonly length: number
    private readonly lastChunkLength: number
    private readonly lastIndex: number
    private readonly memory = new Map<number, Uint8Array>()
    private closed = false
    private readonly torrent: { _markUnverified?: (index: number) => void } | undefined

    constructor(chunkLength: number, opts: Record<string, unknown> = {}) {
      this.chunkLength = Number(chunkLength)
      if (!(this.chunkLength > 0)) throw new ChunkStoreError('chunk-length-invalid', 'first argument must be a chunk length')
      const torrent = opts.torrent as { infoHash?: unknown; _markUnverified?: (index: number) => void } | undefined
      this.torrent = torrent
      const infoHash = opts.infoHash ?? torrent?.infoHash
      if (typeof infoHash !== 'string') throw new ChunkStoreError('chunk-store-no-infohash', 'storeOpts.infoHash is required')
      this.infoHash = infoHash
      this.length = Number(opts.length) || Infinity
      this.lastIndex = Number.isFinite(this.length) ? Math.ceil(this.length / this.chunkLength) - 1 : Infinity
      this.lastChunkLength = Number.isFinite(this.length) ? this.length % this.chunkLength || this.chunkLength : this.chunkLength
    }

    private expectedLength(index: number): number {
      return index === this.lastIndex ? this.lastChunkLength : this.chunkLength
    }

    put(index: number, buf: Uint8Array, cb: Callback = () => undefined): void {
      if (this.closed) return fail(cb, new ChunkStoreError('chunk-store-closed', 'storage is closed'))
      if (index > this.lastIndex || buf.length !== this.expectedLength(index)) {
        return fail(cb, new ChunkStoreError('chunk-length-invalid', `chunk ${index} must be ${this.expectedLength(index)} bytes, got ${buf.length}`))
      }
      // A view into a larger buffer would be cloned whole into IndexedDB; a Buffer polyfill is copied to a plain array.
      const bytes = buf.constructor === Uint8Array && buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength ? buf : new Uint8Array(buf)
      pieces.put(this.infoHash, index, bytes).then(
        (stored) => {
          if (stored) this.memory.delete(index)
          else this.keepInMemory(index, bytes)
          cb(null)
        },
        () => {
          this.keepInMemory(index, bytes)
          cb(null)
        },
      )
    }

    get(index: number, opts: ChunkStoreGetOptions | null | Callback<Uint8Array>, cb?: Callback<Uint8Array>): void {
      const callback = (typeof opts === 'function' ? opts : cb) ?? (() => undefined)
      const range = typeof opts === 'function' || !opts ? {} : opts
      if (this.closed) return fail(callback, new ChunkStoreError('chunk-store-closed', 'storage is closed'))
      const slice = (bytes: Uint8Array) => {
        const offset = range.offset ?? 0
        const length = range.length ?? bytes.length - offset
        if (offset === 0 && length === bytes.length) return bytes
        return bytes.subarray(offset, offset + length)
      }
      const inMemory = this.memory.get(index)
      if (inMemory) return void queueMicrotask(() => callback(null, slice(inMemory)))
      pieces.get(this.infoHash, index).then(
        (bytes) => {
          if (bytes) return callback(null, slice(bytes))
          // The SW evicted it: stop claiming it, so webtorrent can fetch it again if it is wanted.
          try {
            this.torrent?._markUnverified?.(index)
          } catch {
            // A torrent being destroyed: nothing to correct.
          }
          callback(new ChunkStoreError('chunk-missing', `chunk ${index} not found`))
        },
        (error: unknown) => callback(error instanceof Error ? error : new ChunkStoreError('chunk-missing', String(error))),
      )
    }

    close(cb: Callback = () => undefined): void {
      this.closed = true
      this.memory.clear()
      queueMicrotask(() => cb(null))
    }

    destroy(cb: Callback = () => undefined): void {
      this.close(cb)
    }

    private keepInMemory(index: number, bytes: Uint8Array): void {
      this.memory.delete(index)
      this.memory.set(index, bytes)
      if (this.memory.size > memoryFallbackPieces) this.memory.delete(this.memory.keys().next().value as number)
    }
  }
}

function fail<T>(cb: Callback<T>, error: Error): void {
  queueMicrotask(() => cb(error))
}

/** Indexes of the asset's pieces held by the store; uses `indexesOf` when the store has it (one query). */
export async function storedIndexes(pieces: PieceStore & { indexesOf?(infoHash: string): Promise<number[]> }, infoHash: string, pieceCount: number): Promise<number[]> {
  if (pieces.indexesOf) return (await pieces.indexesOf(infoHash)).filter((i) => i < pieceCount).sort((a, b) => a - b)
  const found: number[] = []
  const batch = 32
  for (let first = 0; first < pieceCount; first += batch) {
    const indexes = Array.from({ length: Math.min(batch, pieceCount - first) }, (_, i) => first + i)
    const present = await Promise.all(indexes.map((index) => pieces.has(infoHash, index)))
    indexes.forEach((index, i) => present[i] && found.push(index))
  }
  return found
}

/** webtorrent's startup bitfield: bit i (most significant first) set when piece i is had. */
export function bitfieldOf(indexes: readonly number[], pieceCount: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(pieceCount / 8))
  for (const index of indexes) if (index >= 0 && index < pieceCount) bits[index >> 3]! |= 0x80 >> (index % 8)
  return bits
}
