// The .torrent the page builds from a ManifestAsset (core/torrent-dict.ts, as the build tools do) and
// its infohash with WebCrypto.

import type { ManifestAsset } from '../../core/manifest-format.ts'
import { encodeInfo, encodeTorrent, torrentInfoOf } from '../../core/torrent-dict.ts'

/** The info dictionary of an asset's torrent, exactly as the build tools write it. */
export function encodeAssetInfo(asset: ManifestAsset): Uint8Array {
  return encodeInfo(torrentInfoOf(asset))
}

/**
 * A .torrent for the asset: announce + announce-list + info. No url-list: the SW is the only webseed
 * client, the agent fetches from peers only.
 */
export function encodeAssetTorrent(asset: ManifestAsset, trackers: readonly string[]): Uint8Array {
  return encodeTorrent(torrentInfoOf(asset), { trackers })
}

export type Sha1 = (bytes: Uint8Array) => Promise<ArrayBuffer>

const webCryptoSha1: Sha1 = (bytes) => crypto.subtle.digest('SHA-1', bytes as Uint8Array<ArrayBuffer>)

/** Hex infohash of the asset's info dictionary, computed in the page. */
export async function assetInfoHash(asset: ManifestAsset, sha1: Sha1 = webCryptoSha1): Promise<string> {
  const digest = new Uint8Array(await sha1(encodeAssetInfo(asset)))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')
}
