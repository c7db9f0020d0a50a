// A first visit's page loads its assets before the SW controls it: they come from the origin and go
// into the browser's HTTP cache, not the piece store. Adopting them afterwards, from the HTTP cache
// only ('only-if-cached': never a new origin byte), lets this visitor seed them to the next ones.
// Every piece is verified like any other before it is stored.

import type { Manifest, ManifestAsset } from '../core/manifest-format.ts'
import { pieceCount, pieceSize } from '../core/piece-math.ts'
import { routeRequest } from './asset-router.ts'
import type { PieceStore } from './piece-store.ts'
import { verifyPiece } from './piece-verifier.ts'
import { withTimeout } from './with-timeout.ts'

/** Larger assets are left alone: adopting reads the whole body into memory. */
export const MAX_ADOPT_BYTES = 32 * 1024 * 1024

export interface AdoptDeps {
  manifest: () => Manifest | null
  store: Pick<PieceStore, 'has' | 'put'>
  fetch: (input: string, init: RequestInit) => Promise<Response>
  origin: string
}

export interface AdoptResult {
  /** Paths whose every piece is now stored. */
  adopted: string[]
  /** Paths not in the HTTP cache, or whose cached bytes did not verify. */
  skipped: string[]
}

export async function adoptCachedAssets(urls: readonly string[], deps: AdoptDeps): Promise<AdoptResult> {
  const result: AdoptResult = { adopted: [], skipped: [] }
  const manifest = deps.manifest()
  if (!manifest) return result
  const assets = new Map<string, ManifestAsset>()
  for (const url of urls.slice(0, 200)) {
    const route = routeRequest(manifest, { method: 'GET', url, mode: 'same-origin', cache: 'default' } as Request, deps.origin)
    if (route && route.asset.length <= MAX_ADOPT_BYTES) assets.set(route.asset.infoHash, route.asset)
  }
  for (const asset of assets.values()) {
    const outcome = await adoptCachedAsset(asset, deps)
    if (outcome !== 'complete-before') (outcome === 'adopted' ? result.adopted : result.skipped).push(asset.path)
  }
  return result
}

/**
 * Stores the missing pieces of one asset from the HTTP cache, each verified first. 'adopted': every
 * piece is now stored; 'skipped': not cached, or some cached bytes did not verify (never stored).
 */
export async function adoptCachedAsset(
  asset: ManifestAsset,
  deps: Pick<AdoptDeps, 'store' | 'fetch' | 'origin'> & { readTimeoutMs?: number },
  signal?: AbortSignal,
): Promise<'adopted' | 'skipped' | 'complete-before'> {
  if (asset.length > MAX_ADOPT_BYTES) return 'skipped'
  const count = pieceCount(asset.length, asset.pieceLength)
  const missing: number[] = []
  for (let index = 0; index < count; index++) if (!(await deps.store.has(asset.infoHash, index))) missing.push(index)
  if (missing.length === 0) return 'complete-before'
  const bytes = await cachedBody(new URL(asset.path, deps.origin).href, deps.fetch, deps.readTimeoutMs ?? READ_TIMEOUT_MS, signal)
  if (!bytes || bytes.length !== asset.length) return 'skipped'
  let allGood = true
  // Not awaited one by one: the store writes adjacent pieces queued together as one record.
  const puts: Promise<boolean>[] = []
  for (const index of missing) {
    if (signal?.aborted) break
    const start = index * asset.pieceLength
    const piece = bytes.slice(start, start + pieceSize(index, asset.length, asset.pieceLength))
    if ((await verifyPiece(asset, index, piece)).ok) puts.push(deps.store.put(asset.infoHash, index, piece))
    else allGood = false // never stored; peers or HTTP will bring the right bytes when asked
  }
  allGood = (await Promise.all(puts)).every(Boolean) && allGood
  return allGood && !signal?.aborted ? 'adopted' : 'skipped'
}

/**
 * Bounded: once in Firefox a photo stayed unstored through 15 s of requests, as if this read never
 * ended (not seen directly); a 32 MiB body comes from the HTTP cache in well under a second.
 */
const READ_TIMEOUT_MS = 5_000

async function cachedBody(url: string, fetch: AdoptDeps['fetch'], timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array | null> {
  const controller = new AbortController()
  const stop = () => controller.abort()
  signal?.addEventListener('abort', stop)
  const read = async () => {
    const response = await fetch(url, { cache: 'only-if-cached', mode: 'same-origin', credentials: 'same-origin', signal: controller.signal })
    return response.status === 200 ? new Uint8Array(await response.arrayBuffer()) : null
  }
  try {
    return await withTimeout(read(), timeoutMs, () => (stop(), null))
  } catch {
    return null
  } finally {
    signal?.removeEventListener('abort', stop)
  }
}
