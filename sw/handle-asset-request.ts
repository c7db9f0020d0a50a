// The pipeline for one fetch event, top to bottom:
//   route (is it a manifest asset?) → plan (which bytes) → pieces (store, peers, webseed) → respond;
//   or, when every piece is stored and the asset is passive media, one Blob of the stored pieces (stored-response.ts);
//   or, when nothing of the response is at hand and no peer is about to be, the origin's bytes as they arrive (origin-stream.ts).
// Every failure before the response lands in one place: a plain network fetch of the original
// request, so the site never breaks because of swarmcdn.

import type { Manifest } from '../core/manifest-format.ts'
import type { AssetFetcher } from './asset-fetcher.ts'
import { assetEtag, createAssetResponse, type AssetResponse } from './asset-response.ts'
import { couldBeAsset, routeRequest, type AssetRoute } from './asset-router.ts'
import type { AssetStats } from './asset-stats.ts'
import { toSwError, type SwError } from './errors.ts'
import { planRange, unsatisfiableResponse } from './range-response.ts'
import type { SwConfig } from './config.ts'
import type { OriginStream } from './origin-stream.ts'
import type { StoredResponder } from './stored-response.ts'

export interface HandledRequest {
  /** For event.respondWith: never rejects (falls back to the network). */
  response: Promise<Response>
  /** For event.waitUntil: body streaming and store writes. Never rejects. */
  done: Promise<void>
}

export interface AssetRequestHandlerDeps {
  manifest: {
    current(): Manifest | null
    isLoaded(): boolean
    load(): Promise<unknown>
    /** A check under way (a navigation's revalidation): asset requests wait for it, bounded. */
    pending?(): Promise<unknown> | null
  }
  fetcher: AssetFetcher
  /** The warm path: ranges wholly in the store, served as Blobs. Default: always the piece path. */
  storedResponse?: StoredResponder
  /** The cold path: responses nothing of which is at hand stream straight from the origin. Default: always the piece path. */
  originStream?: OriginStream
  stats: AssetStats
  /** The network, for the fallback. */
  fetch: (request: Request) => Promise<Response>
  /** The SW's origin (self.location.origin). */
  origin: string
  /** How long a request may wait for the manifest (cold start, or a check under way) before routing without it. Default 500 ms. */
  manifestWaitMs?: number
  /** Response limits (sw/config.ts); each defaults to off. */
  config?: Partial<Pick<SwConfig, 'wholeResponseMaxBytes' | 'responseStartTimeoutMs' | 'pieceStallTimeoutMs'>>
  /** Told why a request fell back to the network. */
  onFallback?: (request: Request, error: SwError) => void
}

export type AssetRequestHandler = (request: Request, clientId?: string) => HandledRequest | null

export function createAssetRequestHandler(deps: AssetRequestHandlerDeps): AssetRequestHandler {
  /** Plan → pieces → respond. Throws on any failure before the response exists. */
  async function serve(route: AssetRoute, request: Request, clientId: string | undefined): Promise<AssetResponse> {
    const { asset, method } = route
    const etag = assetEtag(asset)
    const plan = planRange(request.headers.get('range'), asset.length, request.headers.get('if-range'), etag)
    if (plan.kind === 'unsatisfiable') return { response: unsatisfiableResponse(asset.length, etag), done: Promise.resolve() }
    const partial = plan.kind === 'partial'
    const tally = deps.stats.beginRequest(asset, { status: partial ? 206 : 200, start: plan.start, end: plan.end })
    if (method === 'GET' && deps.storedResponse) {
      const stored = await deps.storedResponse.respond({ asset, start: plan.start, end: plan.end, partial, tally })
      if (stored) return stored
    }
    if (method === 'GET' && deps.originStream && (await deps.originStream.suits(asset, plan.start, clientId))) {
      return deps.originStream.respond({ asset, start: plan.start, end: plan.end, partial, tally })
    }
    return createAssetResponse({
      asset,
      method,
      start: plan.start,
      end: plan.end,
      partial,
      tally,
      openPieces: (first, last) => deps.fetcher.open(asset, first, last, { clientId }),
      wholeResponseMaxBytes: deps.config?.wholeResponseMaxBytes,
      responseStartTimeoutMs: deps.config?.responseStartTimeoutMs,
      pieceStallTimeoutMs: deps.config?.pieceStallTimeoutMs,
    })
  }

  /** The one place where failures become the fallback. */
  function respond(request: Request, clientId: string | undefined, route: () => AssetRoute | null | Promise<AssetRoute | null>): HandledRequest {
    let markDone!: (work: Promise<unknown>) => void
    const done = new Promise<void>((resolve) => (markDone = (work) => void work.then(() => resolve(), () => resolve())))
    const response = (async () => {
      try {
        const found = await route()
        if (!found) {
          markDone(Promise.resolve())
          return deps.fetch(request)
        }
        const served = await serve(found, request, clientId)
        markDone(served.done)
        return served.response
      } catch (error) {
        markDone(Promise.resolve())
        deps.onFallback?.(request, toSwError(error))
        return deps.fetch(request)
      }
    })()
    return { response, done }
  }

  /** Settles when `work` does or after manifestWaitMs, whichever is first. */
  const bounded = (work: Promise<unknown>) =>
    Promise.race([work.then(() => true, () => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), deps.manifestWaitMs ?? 500))])

  return (request, clientId) => {
    // A check under way (a page load revalidating the manifest after a deploy), or a cold SW start.
    const pending = deps.manifest.pending?.() ?? (deps.manifest.isLoaded() ? null : deps.manifest.load())
    if (!pending) {
      const route = routeRequest(deps.manifest.current(), request, deps.origin)
      return route ? respond(request, clientId, () => route) : null
    }
    // Hold same-origin sub-resource requests until the manifest is settled (milliseconds: a 304, or
    // the stored copy), rather than serving them from a manifest a deploy has just replaced.
    if (!couldBeAsset(request, deps.origin)) return null
    return respond(request, clientId, async () => {
      // Bounded: a slow or hung manifest fetch must never hold the site's own requests.
      await bounded(pending)
      return deps.manifest.isLoaded() ? routeRequest(deps.manifest.current(), request, deps.origin) : null
    })
  }
}
