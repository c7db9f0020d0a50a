// Which requests the SW answers: GET/HEAD, same origin, path equal to a manifest asset path.
// Everything else gets null, and the entry does not call respondWith (zero cost for the page).

import type { Manifest, ManifestAsset } from '../core/manifest-format.ts'

export interface AssetRoute {
  asset: ManifestAsset
  method: 'GET' | 'HEAD'
}

/** The parts of a Request the router reads (a real Request fits). */
export interface RoutableRequest {
  method: string
  url: string
  mode?: RequestMode
  cache?: RequestCache
}

const indexes = new WeakMap<Manifest, Map<string, ManifestAsset>>()

/** Decoded path → asset, built once per manifest. */
function assetIndex(manifest: Manifest): Map<string, ManifestAsset> {
  let index = indexes.get(manifest)
  if (!index) {
    index = new Map()
    for (const asset of manifest.assets) {
      const decoded = safeDecode(asset.path)
      if (decoded !== null) index.set(decoded, asset)
    }
    indexes.set(manifest, index)
  }
  return index
}

function safeDecode(path: string): string | null {
  try {
    return decodeURIComponent(path)
  } catch {
    return null
  }
}

/** `origin` is the SW's own origin (self.location.origin). The query string is ignored. */
export function routeRequest(manifest: Manifest | null, request: RoutableRequest, origin: string): AssetRoute | null {
  if (!manifest) return null
  if (request.method !== 'GET' && request.method !== 'HEAD') return null
  // Documents keep the origin's own response: its CSP, framing and caching headers matter there.
  if (request.mode === 'navigate') return null
  // The platform forbids answering these from anything but the HTTP cache.
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return null
  let url: URL
  try {
    url = new URL(request.url)
  } catch {
    return null
  }
  if (url.origin !== origin) return null
  const path = safeDecode(url.pathname)
  if (path === null) return null
  const asset = assetIndex(manifest).get(path)
  return asset ? { asset, method: request.method } : null
}

/**
 * Before the manifest is restored (cold SW start), only these requests are held until it is:
 * same-origin GET/HEAD sub-resources. Navigations pass straight through.
 */
export function couldBeAsset(request: RoutableRequest, origin: string): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false
  if (request.mode === 'navigate') return false
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return false
  try {
    return new URL(request.url).origin === origin
  } catch {
    return false
  }
}
