// Standard BitTorrent v1 single-file torrents (BEP 3) with a BEP 19 url-list.
// Only { length, name, piece length, pieces } go into `info`, so the same bytes
// under the same name give the same infohash on every run and machine.

import bencode from 'bencode'
import { createHash } from 'node:crypto'
import { torrentNameForPath, type ManifestAsset } from '../../core/manifest-format.ts'

export interface TorrentInfo {
  name: string
  length: number
  pieceLength: number
  pieces: Uint8Array
}

/** The `info` a manifest asset stands for (the manifest holds everything needed to rebuild it). */
export function torrentInfoOf(asset: ManifestAsset): TorrentInfo {
  return { name: torrentNameForPath(asset.path), length: asset.length, pieceLength: asset.pieceLength, pieces: Buffer.from(asset.pieces, 'base64') }
}

export function encodeInfo(info: TorrentInfo): Uint8Array {
  return bencode.encode({
    length: info.length,
    name: Buffer.from(info.name, 'utf8'),
    'piece length': info.pieceLength,
    pieces: Buffer.from(info.pieces),
  })
}

export function infoHashOf(info: TorrentInfo): string {
  return createHash('sha1').update(encodeInfo(info)).digest('hex')
}

export interface TorrentFileOptions {
  /** Absolute ws:// or wss:// tracker URLs. */
  trackers: string[]
  /** The asset's own absolute URL (BEP 19 webseed); omitted for the seeder, which has the file. */
  webSeedUrl?: string
}

export function encodeTorrentFile(info: TorrentInfo, options: TorrentFileOptions): Uint8Array {
  // No 'creation date': the file stays byte-identical across builds too.
  const torrent: Record<string, unknown> = {
    'created by': 'swarmcdn',
    info: {
      length: info.length,
      name: Buffer.from(info.name, 'utf8'),
      'piece length': info.pieceLength,
      pieces: Buffer.from(info.pieces),
    },
  }
  if (options.webSeedUrl) torrent['url-list'] = [options.webSeedUrl]
  if (options.trackers.length > 0) {
    torrent.announce = options.trackers[0]
    torrent['announce-list'] = options.trackers.map((tracker) => [tracker])
  }
  return bencode.encode(torrent)
}
