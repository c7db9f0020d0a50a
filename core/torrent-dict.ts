// Standard BitTorrent v1 single-file torrents (BEP 3) with an optional BEP 19 url-list, encoded with the
// `bencode` package. Shared by the build tools (Node) and the page's agent (browser): the page must
// produce byte-for-byte the `info` the build wrote, or it would join another swarm.
// Only { length, name, piece length, pieces } go into `info`, so the same bytes under the same name
// give the same infohash on every run and machine.

import bencode from 'bencode'
import { base64ToBytes } from './base64.ts'
import { torrentNameForPath, type ManifestAsset } from './manifest-format.ts'

export interface TorrentInfo {
  name: string
  length: number
  pieceLength: number
  pieces: Uint8Array
}

/** The `info` a manifest asset stands for (the manifest holds everything needed to rebuild it). */
export function torrentInfoOf(asset: ManifestAsset): TorrentInfo {
  return { name: torrentNameForPath(asset.path), length: asset.length, pieceLength: asset.pieceLength, pieces: base64ToBytes(asset.pieces) ?? new Uint8Array(0) }
}

function infoDict(info: TorrentInfo): Record<string, unknown> {
  return { length: info.length, name: info.name, 'piece length': info.pieceLength, pieces: info.pieces }
}

export function encodeInfo(info: TorrentInfo): Uint8Array {
  return bencode.encode(infoDict(info))
}

export interface TorrentFileOptions {
  /** Absolute ws:// or wss:// tracker URLs. */
  trackers: readonly string[]
  /** The asset's own absolute URL (BEP 19 webseed); omitted where the file or peers are the source. */
  webSeedUrl?: string
  createdBy?: string
}

export function encodeTorrent(info: TorrentInfo, options: TorrentFileOptions): Uint8Array {
  // No 'creation date': the file stays byte-identical across builds too.
  const torrent: Record<string, unknown> = { info: infoDict(info) }
  if (options.createdBy) torrent['created by'] = options.createdBy
  if (options.webSeedUrl) torrent['url-list'] = [options.webSeedUrl]
  if (options.trackers.length > 0) {
    torrent.announce = options.trackers[0]
    torrent['announce-list'] = options.trackers.map((tracker) => [tracker])
  }
  return bencode.encode(torrent)
}
