// The cold path: a response nothing of which is at hand (its first piece is not stored, no download
// of it is under way, and no peer is around or about to be) streams the origin's bytes to the page as
// they arrive, exactly as the plain fetch the site would have made; the origin is as trusted as that
// fetch. On the side, whole pieces are assembled, verified and stored, for later visits and for
// sharing: a piece that fails its hash is never stored or shared (and the manifest is checked again,
// as a deploy may have changed the file).
//
// Measured (issue 11, `npm run bench:sw`): the piece path, which waits for each piece to be hashed
// and routes every piece through the scheduler, made a cold page several times slower than plain
// HTTP on loopback.
//
// Faster still, for a whole-body request of an asset the HTTP cache can hold: the origin's own
// response, untouched, so no byte passes through this worker's JavaScript (bench:sw, 19 MB page:
// 1.07× plain HTTP over 5 runs, against about 1.5× with the same body re-wrapped in a new Response
// and 2.1–2.5× streamed through this worker; reading a clone on the side was as slow). Its pieces are then stored from the
// browser's HTTP cache ('only-if-cached': no new origin byte), each verified, once the pages are
// quiet (storeLater). An origin that says no-store keeps the streamed way, which stores as it goes.

import type { ManifestAsset } from '../core/manifest-format.ts'
import { pieceSize } from '../core/piece-math.ts'
import { MAX_ADOPT_BYTES } from './adopt-cached-assets.ts'
import { MAX_PENDING_WRITE_BYTES, type PieceCursor } from './asset-fetcher.ts'
import { assetResponseHead, withinTime, type AssetResponse } from './asset-response.ts'
import type { RequestTally } from './asset-stats.ts'
import { SwError, isAbortError, toSwError } from './errors.ts'
import type { PeerPieces } from './peer-source-port.ts'
import type { SourceName } from './piece-source.ts'
import type { PieceStore } from './piece-store.ts'
import type { PieceVerifier } from './piece-verifier.ts'
import { parseContentRange } from './webseed-source.ts'

export interface OriginStreamDeps {
  fetch: (url: string, init: RequestInit) => Promise<Response>
  /** The SW's origin: the asset's own URL there is fetched. */
  origin: string
  store: Pick<PieceStore, 'has' | 'put'>
  verify: PieceVerifier
  /** Peers, to tell whether any may serve this visitor (null: P2P off). */
  peers: PeerPieces | null
  /** A download of this piece is under way on the piece path. */
  busy(infoHash: string, index: number): boolean
  /** The rest of a response whose origin body failed mid-way, by the piece path (pieces first..last). */
  resume?: (asset: ManifestAsset, first: number, last: number) => PieceCursor
  /** Told of a piece from the origin that failed its hash. */
  onRejected?: (asset: ManifestAsset, index: number) => void
  /** Time allowed until the origin's response headers arrive; then the request falls back. Default none. */
  responseTimeoutMs?: number
  /** Time a body read may bring nothing; then the body errors. Default none. */
  bodyStallMs?: number
  /**
   * Whole-body requests of assets up to untouchedMaxBytes get the origin's response itself; this
   * stores the asset later, from the HTTP cache (adopt-cached-assets.ts). Default none: every
   * response streams through this worker, storing as it goes.
   */
  storeLater?: {
    (asset: ManifestAsset): Promise<void>
    /** Storing it later missed last time (not in the HTTP cache): this response streams and stores as it goes. */
    missed?(asset: ManifestAsset): boolean
  }
  /** Default and upper bound MAX_ADOPT_BYTES (what can be stored from the HTTP cache); 0: never untouched. */
  untouchedMaxBytes?: number
}

export interface OriginStreamInput {
  asset: ManifestAsset
  /** Inclusive byte range to send; partial → 206. */
  start: number
  end: number
  partial: boolean
  tally: RequestTally
}

export interface OriginStream {
  /** Whether this response should stream from the origin: nothing of it is at hand, and no peer is about to be. */
  suits(asset: ManifestAsset, start: number, clientId?: string): Promise<boolean>
  /** The response; throws (the caller falls back) when the origin's answer is not the asset's bytes. */
  respond(input: OriginStreamInput): Promise<AssetResponse>
}

export function createOriginStream(deps: OriginStreamDeps): OriginStream {
  async function suits(asset: ManifestAsset, start: number, clientId?: string): Promise<boolean> {
    // A visitor with peers, or whose agent is still finding them, takes the piece path: peers, and HTTP
    // spread across the crowd.
    if (deps.peers && (deps.peers.crowd(clientId) || deps.peers.settling(clientId))) return false
    const first = Math.floor(start / asset.pieceLength)
    if (deps.busy(asset.infoHash, first)) return false
    return !(await deps.store.has(asset.infoHash, first).catch(() => false))
  }

  async function respond(input: OriginStreamInput): Promise<AssetResponse> {
    const { asset, start, end, tally } = input
    const url = new URL(asset.path, deps.origin).href
    const controller = new AbortController()
    // The page wants the whole file: ask for it as the page would, so the origin's answer is the page's.
    const untouched = !input.partial && !!deps.storeLater && !deps.storeLater.missed?.(asset) && asset.length <= Math.min(deps.untouchedMaxBytes ?? MAX_ADOPT_BYTES, MAX_ADOPT_BYTES)
    let response: Response
    try {
      response = await withinTime(
        deps.fetch(url, { headers: untouched ? {} : { Range: `bytes=${start}-${end}` }, signal: controller.signal, credentials: 'same-origin' }),
        deps.responseTimeoutMs,
        'the origin response',
      )
      checkAnswer(response, asset, start, end, url)
    } catch (error) {
      controller.abort()
      tally.finish('error')
      throw isAbortError(error) ? new SwError('source-timeout', String(error)) : toSwError(error)
    }
    if (untouched && !/no-store/i.test(response.headers.get('cache-control') ?? '')) {
      // Counted as sent whole: the page's reads of an untouched body are not seen here.
      tally.add('http', asset.length)
      tally.finish('complete')
      return { response, done: deps.storeLater!(asset).catch(() => undefined) }
    }
    const { status, statusText, headers } = assetResponseHead(asset, start, end, input.partial)
    headers.set('X-Swarmcdn-Sources', 'http')
    return streamedBody(response, input, controller, { status, statusText, headers })
  }

  /** Verifies and stores whole pieces on the side, bounding what waits for the store. */
  function createPieceKeeper(asset: ManifestAsset) {
    let pendingBytes = 0
    let wake: (() => void) | undefined
    const writes = new Set<Promise<void>>()
    return {
      keep(index: number, bytes: Uint8Array): void {
        pendingBytes += bytes.length
        const write = (async () => {
          if ((await deps.verify(asset, index, bytes)).ok) await deps.store.put(asset.infoHash, index, bytes)
          else deps.onRejected?.(asset, index)
        })()
          .catch(() => undefined)
          .finally(() => {
            pendingBytes -= bytes.length
            writes.delete(write)
            wake?.()
          })
        writes.add(write)
      },
      /** Waits while more than the bound is waiting for the store (bounded memory). */
      async room(): Promise<void> {
        while (pendingBytes > MAX_PENDING_WRITE_BYTES) await new Promise<void>((resolve) => (wake = resolve))
      },
      async settled(): Promise<void> {
        while (writes.size > 0) await Promise.allSettled([...writes])
      },
    }
  }

  type Head = { status: number; statusText: string; headers: Headers }

  /**
   * The origin's body through this worker, chunk by chunk, as it arrives: a cancel by the page stops
   * the download. (Tried: handing the page the origin's body untouched and reading a clone for the
   * store; on a 256 MB read it was within noise of this, 9.4 s against 10.2 s, while a clone keeps
   * downloading after the page cancels and buffers outside the worker's heap.) The response starts
   * with the first chunk, so an origin that stalls before any byte is a clean fallback; one that
   * fails mid-body hands the rest to the piece path (retries, mirrors, peers) from where it stopped.
   */
  async function streamedBody(response: Response, input: OriginStreamInput, controller: AbortController, head: Head): Promise<AssetResponse> {
    const { asset, start, end, tally } = input
    const contentLength = end - start + 1
    const lastPiece = Math.floor(end / asset.pieceLength)
    const reader = response.body!.getReader()
    const keeper = createPieceKeeper(asset)
    const pieces = createPieceAssembler(asset, start, (index, bytes) => keeper.keep(index, bytes))
    let sent = 0
    let resumed: PieceCursor | null = null

    /** The next bytes for the page, and who sent them; null at the end. */
    async function nextBytes(): Promise<{ bytes: Uint8Array; source: SourceName } | null> {
      if (!resumed) {
        try {
          await keeper.room()
          const chunk = await withinTime(reader.read(), deps.bodyStallMs, 'the origin body')
          if (!chunk.done) {
            const bytes = chunk.value.subarray(0, Math.max(0, contentLength - sent))
            pieces.push(bytes) // copies: the page's chunk is its own
            return { bytes, source: 'http' }
          }
          if (sent === contentLength) return null
          throw new SwError('webseed-network', `${asset.path}: body ended after ${sent} of ${contentLength} bytes`)
        } catch (error) {
          controller.abort()
          reader.cancel().catch(() => undefined)
          if (!deps.resume || sent === 0) throw error
          resumed = deps.resume(asset, Math.floor((start + sent) / asset.pieceLength), lastPiece)
        }
      }
      if (sent === contentLength) return null
      const piece = await resumed.next()
      if (!piece) throw new SwError('internal', `pieces ended after ${sent} of ${contentLength} bytes`)
      // Only the bytes from where the page is to the end of the range.
      const pieceStart = piece.index * asset.pieceLength
      const bytes = piece.bytes.subarray(start + sent - pieceStart, Math.min(piece.bytes.length, end + 1 - pieceStart))
      return { bytes, source: piece.source }
    }

    // The first bytes before the response: a stall here falls back to the network cleanly.
    let first: { bytes: Uint8Array; source: SourceName } | null
    try {
      first = await nextBytes()
    } catch (error) {
      tally.finish('error')
      throw error
    }

    let finished!: () => void
    const ended = new Promise<void>((resolve) => (finished = resolve))
    const finish = (outcome: 'complete' | 'error' | 'cancelled') => {
      resumed?.cancel()
      tally.finish(outcome)
      finished()
    }

    const body = new ReadableStream<Uint8Array>({
      async pull(stream) {
        try {
          const next = first ?? (await nextBytes())
          first = null
          if (!next) {
            stream.close()
            return finish('complete')
          }
          sent += next.bytes.length
          tally.add(next.source, next.bytes.length)
          stream.enqueue(next.bytes)
          if (sent === contentLength) {
            stream.close()
            finish('complete')
          }
        } catch (error) {
          stream.error(error)
          controller.abort()
          finish('error')
        }
      },
      cancel() {
        controller.abort()
        reader.cancel().catch(() => undefined)
        finish('cancelled')
      },
    })

    return {
      response: new Response(body, head),
      done: ended.then(async () => {
        await keeper.settled()
        await resumed?.settled()
      }),
    }
  }

  return { suits, respond }
}

/** The origin's answer must be exactly bytes start..end of this asset (a 206, or a 200 of the whole file when that is what was asked). */
function checkAnswer(response: Response, asset: ManifestAsset, start: number, end: number, url: string): void {
  const fail = (why: string) => {
    response.body?.cancel().catch(() => undefined)
    throw new SwError('webseed-bad-response', `${url}: ${why}`)
  }
  if (!response.body) fail('no body')
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get('content-range'))
    if (!range || range.start !== start || range.end !== end || range.total !== asset.length) fail(`Content-Range ${response.headers.get('content-range')} does not answer bytes=${start}-${end}/${asset.length}`)
  } else if (response.status === 200) {
    const declared = response.headers.get('content-length')
    if (start !== 0 || end !== asset.length - 1 || (declared !== null && Number(declared) !== asset.length)) fail(`200 with ${declared} bytes for bytes=${start}-${end}`)
  } else {
    fail(`HTTP ${response.status}`)
  }
}

export interface PieceAssembler {
  /** Body bytes in order; every piece completed by them goes to `complete`. */
  push(bytes: Uint8Array): void
}

/**
 * Cuts a body that starts at byte `start` of the asset into whole pieces. A piece the body covers only
 * in part (before the first piece boundary, or cut off at the end) is dropped.
 */
export function createPieceAssembler(asset: ManifestAsset, start: number, complete: (index: number, bytes: Uint8Array) => void): PieceAssembler {
  const { pieceLength, length } = asset
  let position = start
  let current: { index: number; bytes: Uint8Array; filled: number } | null = null
  return {
    push(bytes) {
      let offset = 0
      while (offset < bytes.length) {
        if (!current) {
          const index = Math.floor(position / pieceLength)
          const pieceStart = index * pieceLength
          if (position !== pieceStart) {
            // Mid-piece (a Range that starts inside one): skip to the next boundary.
            const skip = Math.min(bytes.length - offset, pieceStart + pieceLength - position)
            offset += skip
            position += skip
            continue
          }
          current = { index, bytes: new Uint8Array(pieceSize(index, length, pieceLength)), filled: 0 }
        }
        const take = Math.min(bytes.length - offset, current.bytes.length - current.filled)
        current.bytes.set(bytes.subarray(offset, offset + take), current.filled)
        current.filled += take
        offset += take
        position += take
        if (current.filled === current.bytes.length) {
          complete(current.index, current.bytes)
          current = null
        }
      }
    },
  }
}
