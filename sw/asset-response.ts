// Turns a planned byte range and a piece cursor into a streamed 200/206 Response.
//
// The Response is returned once the first piece is verified (so a failure before that throws and the
// caller falls back to the network), then bytes flow piece by piece. Headers go out before the body,
// so X-Swarmcdn-Sources holds the sources planned when the first piece was ready; the exact tally
// goes to stats. A failure mid-body errors the stream: never a short body that looks complete.
//
// A response that can be broken part-way when a clean fallback was still possible is a bug: so a
// response of at most wholeResponseMaxBytes that starts from the store is verified whole before it
// starts (a deploy that changed the file under an old manifest then means a plain network fetch, not
// a broken image), the start is bounded by responseStartTimeoutMs (a stalled source falls back), and a
// streaming body whose next piece stalls past pieceStallTimeoutMs ends with an error, never hangs.

import type { ManifestAsset } from '../core/manifest-format.ts'
import type { PieceCursor, DeliveredPiece } from './asset-fetcher.ts'
import type { RequestTally } from './asset-stats.ts'
import { SwError } from './errors.ts'
import { withTimeout } from './with-timeout.ts'

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
  /** Responses up to this many bytes are verified whole before they start. Default 0 (stream after the first piece). */
  wholeResponseMaxBytes?: number
  /** Time allowed until the response starts; then it throws (the caller falls back). Default none. */
  responseStartTimeoutMs?: number
  /** Time allowed for each next piece of a streaming body; then the body errors. Default none. */
  pieceStallTimeoutMs?: number
}

/** The piece, or a timeout error after `ms` (undefined: no limit). */
export function withinTime<T>(work: Promise<T>, ms: number | undefined, what: string): Promise<T> {
  return withTimeout(work, ms, () => {
    throw new SwError('source-timeout', `${what} took more than ${ms} ms`)
  })
}

export interface AssetResponse {
  response: Response
  /** Settles when the body has ended (or failed, or was cancelled) and store writes have settled. */
  done: Promise<void>
}

export function assetEtag(asset: ManifestAsset): string {
  return `"${asset.infoHash}"`
}

/** Status and headers of a response for bytes start..end (inclusive) of the asset, whoever sends the body. */
export function assetResponseHead(asset: ManifestAsset, start: number, end: number, partial: boolean): { status: number; statusText: string; headers: Headers } {
  const headers = new Headers({
    'Content-Type': asset.type,
    'Content-Length': String(end - start + 1),
    'Accept-Ranges': 'bytes',
    ETag: assetEtag(asset),
  })
  if (partial) headers.set('Content-Range', `bytes ${start}-${end}/${asset.length}`)
  return { status: partial ? 206 : 200, statusText: partial ? 'Partial Content' : 'OK', headers }
}

export async function createAssetResponse(input: AssetResponseInput): Promise<AssetResponse> {
  const { asset, start, end, tally } = input
  const contentLength = end - start + 1
  const { status, statusText, headers } = assetResponseHead(asset, start, end, input.partial)

  if (input.method === 'HEAD') {
    tally.finish('complete')
    return { response: new Response(null, { status, statusText, headers }), done: Promise.resolve() }
  }

  const firstPiece = Math.floor(start / asset.pieceLength)
  const lastPiece = Math.floor(end / asset.pieceLength)
  const cursor = input.openPieces(firstPiece, lastPiece)
  // A response that starts from the store is a revisit: a deploy may have changed the file since, and
  // its other pieces would then fail against the old manifest. Verify it whole before it starts.
  // (Not a response fed by peers from its first piece: holding it back starves them; measured.)
  const wholeUpTo = contentLength <= (input.wholeResponseMaxBytes ?? 0) ? lastPiece : -1
  // Pieces received before the response starts: the first one, or all of them for a whole response.
  const early: DeliveredPiece[] = []
  try {
    await withinTime(
      (async () => {
        do {
          const piece = await cursor.next()
          if (!piece) throw new SwError('internal', early.length === 0 ? 'no piece for a non-empty range' : `pieces ended after ${early.length}`)
          early.push(piece)
        } while (early[0].source === 'store' && early[early.length - 1].index < wholeUpTo)
      })(),
      input.responseStartTimeoutMs,
      'the response start',
    )
  } catch (error) {
    cursor.cancel()
    tally.finish('error')
    throw error // before the response: the caller falls back to the network
  }
  await cursor.planned()
  headers.set('X-Swarmcdn-Sources', cursor.plannedSources().join(','))

  let finished!: () => void
  const ended = new Promise<void>((resolve) => (finished = resolve))
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
        const piece: DeliveredPiece | null = early.shift() ?? (await withinTime(cursor.next(), input.pieceStallTimeoutMs, 'the next piece'))
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
