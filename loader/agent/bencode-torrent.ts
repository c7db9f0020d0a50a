// A tiny bencoder (BEP 3) and the .torrent the page builds from a ManifestAsset. Only what a single-file
// torrent needs: integers, byte strings, lists, dictionaries with sorted keys. The info dictionary must
// come out byte-identical to origin-tools/src/torrent-file.ts, or the infohash (and the swarm) differs.

import { base64ToBytes } from '../../core/base64.ts'
import { torrentNameForPath, type ManifestAsset } from '../../core/manifest-format.ts'

export type BencodeValue = number | string | Uint8Array | BencodeValue[] | { [key: string]: BencodeValue }

export type BencodeErrorCode = 'bencode-unsupported-value'

export class BencodeError extends Error {
  readonly code: BencodeErrorCode = 'bencode-unsupported-value'
  constructor(message: string) {
    super(message)
    this.name = 'BencodeError'
  }
}

const utf8 = new TextEncoder()

export function bencode(value: BencodeValue): Uint8Array {
  const parts: Uint8Array[] = []
  encodeInto(value, parts)
  let total = 0
  for (const part of parts) total += part.length
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

function encodeInto(value: BencodeValue, parts: Uint8Array[]): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new BencodeError(`bencode integers only, got ${value}`)
    parts.push(utf8.encode(`i${value}e`))
  } else if (typeof value === 'string') {
    encodeBytes(utf8.encode(value), parts)
  } else if (value instanceof Uint8Array) {
    encodeBytes(value, parts)
  } else if (Array.isArray(value)) {
    parts.push(utf8.encode('l'))
    for (const item of value) encodeInto(item, parts)
    parts.push(utf8.encode('e'))
  } else if (typeof value === 'object' && value !== null) {
    parts.push(utf8.encode('d'))
    // BEP 3: keys are raw byte strings in sorted order; compare their UTF-8 bytes, not UTF-16 units.
    const keys = Object.keys(value)
      .map((key) => ({ key, bytes: utf8.encode(key) }))
      .sort((a, b) => compareBytes(a.bytes, b.bytes))
    for (const { key, bytes } of keys) {
      const item = value[key]
      if (item === undefined) continue
      encodeBytes(bytes, parts)
      encodeInto(item, parts)
    }
    parts.push(utf8.encode('e'))
  } else {
    throw new BencodeError(`cannot bencode ${typeof value}`)
  }
}

function encodeBytes(bytes: Uint8Array, parts: Uint8Array[]): void {
  parts.push(utf8.encode(`${bytes.length}:`), bytes)
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** The info dictionary of an asset's torrent, exactly as the build tools write it. */
export function encodeAssetInfo(asset: ManifestAsset): Uint8Array {
  return bencode(assetInfoDict(asset))
}

function assetInfoDict(asset: ManifestAsset): { [key: string]: BencodeValue } {
  return {
    length: asset.length,
    name: torrentNameForPath(asset.path),
    'piece length': asset.pieceLength,
    pieces: base64ToBytes(asset.pieces) ?? new Uint8Array(0),
  }
}

/**
 * A .torrent for the asset: announce + announce-list + info. No url-list: the SW is the only webseed
 * client, the agent fetches from peers only.
 */
export function encodeAssetTorrent(asset: ManifestAsset, trackers: readonly string[]): Uint8Array {
  const torrent: { [key: string]: BencodeValue } = {
    info: assetInfoDict(asset),
  }
  if (trackers.length > 0) {
    torrent.announce = trackers[0]!
    torrent['announce-list'] = trackers.map((tracker) => [tracker])
  }
  return bencode(torrent)
}

export type Sha1 = (bytes: Uint8Array) => Promise<ArrayBuffer>

const webCryptoSha1: Sha1 = (bytes) => crypto.subtle.digest('SHA-1', bytes as Uint8Array<ArrayBuffer>)

/** Hex infohash of the asset's info dictionary, computed in the page. */
export async function assetInfoHash(asset: ManifestAsset, sha1: Sha1 = webCryptoSha1): Promise<string> {
  const digest = new Uint8Array(await sha1(encodeAssetInfo(asset)))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')
}
