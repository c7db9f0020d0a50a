// Torrents on the Node side: the shared encoding (core/torrent-dict.ts) with Node's SHA-1.

import { createHash } from 'node:crypto'
import { encodeInfo, encodeTorrent, type TorrentFileOptions, type TorrentInfo } from '../../core/torrent-dict.ts'

export { encodeInfo, torrentInfoOf, type TorrentFileOptions, type TorrentInfo } from '../../core/torrent-dict.ts'

export function infoHashOf(info: TorrentInfo): string {
  return createHash('sha1').update(encodeInfo(info)).digest('hex')
}

/** The .torrent file the build writes (and the seeder loads). */
export function encodeTorrentFile(info: TorrentInfo, options: TorrentFileOptions): Uint8Array {
  return encodeTorrent(info, { ...options, createdBy: 'swarmcdn' })
}
