// Seeds every asset of a verified manifest to browsers over WebRTC (webtorrent in Node; WebRTC from
// @roamhq/wrtc through the webrtc-polyfill override in package.json).

import { dirname } from 'node:path'
import { EventEmitter } from 'node:events'
import WebTorrent from 'webtorrent'
import type { Manifest } from '../../../core/manifest-format.ts'
import { encodeTorrentFile, torrentInfoOf } from '../torrent-file.ts'
import { siteFileForPath } from '../commands/verify.ts'

export interface SeederOptions {
  siteDir: string
  /** A manifest whose files were already checked on disk. */
  manifest: Manifest
  /** Absolute ws:// or wss:// tracker URLs. */
  trackers: string[]
  /** ICE servers for WebRTC; [] is right on one machine or a LAN. */
  iceServers: Array<{ urls: string | string[]; username?: string; credential?: string }>
  /** Upload cap in bytes per second; -1 for none. */
  maxUploadBytesPerSec: number
  /** Told about tracker trouble (unreachable, refused); webtorrent retries by itself. */
  onWarning?: (message: string) => void
}

export interface SeederStats {
  torrents: number
  peers: number
  uploadedBytes: number
  uploadBytesPerSec: number
}

export interface SiteSeeder {
  stats(): SeederStats
  close(): Promise<void>
}

export async function startSeeder(options: SeederOptions): Promise<SiteSeeder> {
  // webtorrent shares one tracker socket between torrents and adds listeners per torrent: a site
  // with more than ten assets is normal, not a leak.
  EventEmitter.defaultMaxListeners = Math.max(EventEmitter.defaultMaxListeners, options.manifest.assets.length + 10)
  const client = new WebTorrent({
    dht: false,
    lsd: false,
    utp: false,
    natUpnp: false,
    natPmp: false,
    webSeeds: false,
    torrentPort: 0,
    uploadLimit: options.maxUploadBytesPerSec,
    tracker: { rtcConfig: { iceServers: options.iceServers } },
  })
  client.on('error', (error: Error) => options.onWarning?.(`seeder: ${error.message}`))

  await Promise.all(
    options.manifest.assets.map(
      (asset) =>
        new Promise<void>((resolve, reject) => {
          const file = siteFileForPath(options.siteDir, options.manifest.scope, asset.path)
          const torrentFile = encodeTorrentFile(torrentInfoOf(asset), { trackers: options.trackers })
          // skipVerify: the caller hashed every file against the manifest just before.
          const torrent = client.add(Buffer.from(torrentFile), {
            path: dirname(file),
            skipVerify: true,
            // A seeder makes no WebRTC offers: browsers offer to it through the tracker. Each offer is an
            // RTCPeerConnection kept for 50 s; five per torrent per announce ran out of file descriptors.
            getAnnounceOpts: () => ({ numwant: 0 }),
          })
          torrent.on('warning', (error: Error) => options.onWarning?.(`${asset.path}: ${error.message}`))
          torrent.once('error', reject)
          torrent.once('ready', () => {
            if (torrent.infoHash !== asset.infoHash) reject(new Error(`infohash mismatch for ${asset.path}`))
            else resolve()
          })
        }),
    ),
  )

  return {
    stats() {
      const torrents = client.torrents
      return {
        torrents: torrents.length,
        peers: torrents.reduce((sum: number, t: any) => sum + t.numPeers, 0),
        uploadedBytes: torrents.reduce((sum: number, t: any) => sum + t.uploaded, 0),
        uploadBytesPerSec: Math.round(client.uploadSpeed),
      }
    },
    close: () => new Promise<void>((resolve) => client.destroy(() => resolve())),
  }
}
