// Turns a planned byte range and a piece cursor into a streamed 200/206 Response.
//
// The Response is returned once the first piece is verified (so a failure before that throws and the
// caller falls back to the network), then bytes flow piece by piece. Headers go out before the body,
// so X-Swarmcdn-Sources holds the sources planned when the first piece was ready; the exact tally
// goes to stats. A failure mid-body errors the stream: never a short body that looks complete.

import type { ManifestAsset } from '../core/manifest-format.ts'
import type { PieceCursor, DeliveredPiece } from './asset-fetcher.ts'
import type { RequestTally } from './asset-stats.ts'
import { SwError } from './errors.ts'

export interface AssetResponseInput {
  asset: ManifestAsset
  method: 'GET' | 'HEAD'
  /** Inclusive byte range to send; partial → 206. */
  start: number
  end: number
  partial: boolean
  /** Opens the pieces covering the range; not called for HEAD. */
  openPieces: (firstPiece: number, lastPiece: number) => PieceCursor
  tally: RequestTally
}

export interface AssetResponse {
  response: Response
  /** Settles when the body has ended (or failed, or was cancelled) and store writes have settled. */
  done: Promise<void>
}

export function assetEtag(asset: ManifestAsset): string {
  return `"${asset.infoHash}"`
}

export async function createAssetResponse(input: AssetResponseInput): Promise<AssetResponse> {
  const { asset, start, end, tally } = input
  const contentLength = end - start + 1
  const headers = new Headers({
    'Content-Type': asset.type,
    'Content-Length': String(contentLength),
    'Accept-Ranges': 'bytes',
    ETag: assetEtag(asset),
  })
  if (input.partial) headers.set('Content-Range', `bytes ${start}-${end}/${asset.length}`)
  const status = input.partial ? 206 : 200
  const statusText = input.partial ? 'Partial Content' : 'OK'

  if (input.method === 'HEAD') {
    tally.finish('complete')
    return { response: new Response(null, { status, statusText, headers }), done: Promise.resolve() }
  }

  const firstPiece = Math.floor(start / asset.pieceLength)
  const lastPiece = Math.floor(end / asset.pieceLength)
  const cursor = input.openPieces(firstPiece, lastPiece)
  let first: DeliveredPiece | null
  try {
    first = await cursor.next()
    if (!first) throw new SwError('internal', 'no piece for a non-empty range')
  } catch (error) {
    cursor.cancel()
    tally.finish('error')
    throw error // before the response: the caller falls back to the network
  }
  headers.set('X-Swarmcdn-Sources', cursor.plannedSources().join(','))

  let finished!: () => void
  const ended = new Promise<void>((resolve) => (finished = resolve))
  let pending: DeliveredPiece | null = first
  let sent = 0

  /** The bytes of `piece` that fall inside [start, end]. */
  const sliceOf = (piece: DeliveredPiece) => {
    const pieceStart = piece.index * asset.pieceLength
    const from = Math.max(start, pieceStart) - pieceStart
    const to = Math.min(end + 1, pieceStart + piece.bytes.length) - pieceStart
    return piece.bytes.subarray(from, to)
  }

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const piece: DeliveredPiece | null = pending ?? (await cursor.next())
        pending = null
        if (!piece) throw new SwError('internal', `pieces ended after ${sent} of ${contentLength} bytes`)
        const chunk = sliceOf(piece)
        sent += chunk.length
        tally.add(piece.source, chunk.length)
        controller.enqueue(chunk)
        if (piece.index === lastPiece) {
          // Close only when exactly the promised bytes went out.
          if (sent !== contentLength) throw new SwError('internal', `sent ${sent} bytes, promised ${contentLength}`)
          controller.close()
          tally.finish('complete')
          finished()
        }
      } catch (error) {
        controller.error(error)
        cursor.cancel()
        tally.finish('error')
        finished()
      }
    },
    cancel() {
      cursor.cancel()
      tally.finish('cancelled')
      finished()
    },
  })

  return {
    response: new Response(body, { status, statusText, headers }),
    done: ended.then(() => cursor.settled()),
  }
}
