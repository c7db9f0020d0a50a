// Whole copies of complete passive-media assets in Cache Storage: the warm path's fast lane. A
// response made of many stored piece Blobs (one IndexedDB file each) came at 2.0–2.7× Cache Storage's
// time in bench:sw; a copy answered from Cache Storage is what Workbox serves: 1.01× Workbox CacheFirst over 5 runs (issue 11).
// The pieces stay in IndexedDB too, for seeding to peers: a copy doubles the space its asset takes,
// so only assets up to MAX_COPY_BYTES get one, and only for the current manifest's files (prune).
// A copy is only ever made from pieces already verified and stored (stored-response.ts), and it is
// checked after it is served, like the pieces it was made of.

import type { ManifestAsset } from '../core/manifest-format.ts'

/** Larger assets have no copy: they are read in ranges anyway, and the copy would double their space. */
export const MAX_COPY_BYTES = 32 * 1024 * 1024

export const ASSET_COPIES_CACHE = 'swarmcdn-asset-copies-v1'

export interface AssetCopies {
  /** The copy's stored response (its head is the asset's 200 head), or undefined. */
  match(asset: ManifestAsset): Promise<Response | undefined>
  /** Keeps `body` (exactly the asset's bytes) with the given head. Never rejects (quota, no Cache Storage). */
  put(asset: ManifestAsset, body: Blob, head: { status: number; statusText: string; headers: Headers }): Promise<void>
  delete(infoHash: string): Promise<void>
  /** Deletes the copies of every asset not in `keep` (infoHashes), e.g. after a deploy. */
  prune(keep: ReadonlySet<string>): Promise<void>
}

export interface AssetCopiesDeps {
  caches: CacheStorage
  /** Base URL for the cache keys (the SW's origin). */
  origin: string
  cacheName?: string
}

const KEY_PATH = '/__swarmcdn__/asset-copy/'

/** The Cache Storage key of an asset's copy. */
export function assetCopyUrl(origin: string, infoHash: string): string {
  return new URL(`${KEY_PATH}${infoHash}`, origin).href
}

export function createAssetCopies(deps: AssetCopiesDeps): AssetCopies {
  const cacheName = deps.cacheName ?? ASSET_COPIES_CACHE
  let opened: Promise<Cache> | null = null
  const cache = () => (opened ??= deps.caches.open(cacheName).catch((error) => {
    opened = null
    throw error
  }))
  const key = (infoHash: string) => assetCopyUrl(deps.origin, infoHash)

  return {
    async match(asset) {
      if (asset.length > MAX_COPY_BYTES) return undefined
      try {
        return await (await cache()).match(key(asset.infoHash))
      } catch {
        return undefined
      }
    },
    async put(asset, body, head) {
      if (asset.length > MAX_COPY_BYTES || body.size !== asset.length) return
      try {
        await (await cache()).put(key(asset.infoHash), new Response(body, head))
      } catch {
        // Quota, or Cache Storage unavailable: the pieces still serve.
      }
    },
    async delete(infoHash) {
      try {
        await (await cache()).delete(key(infoHash))
      } catch {
        // Nothing to delete.
      }
    },
    async prune(keep) {
      try {
        const open = await cache()
        for (const request of await open.keys()) {
          const infoHash = new URL(request.url).pathname.slice(KEY_PATH.length)
          if (!keep.has(infoHash)) await open.delete(request)
        }
      } catch {
        // Best effort; the next deploy prunes again.
      }
    },
  }
}
