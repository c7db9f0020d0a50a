// Seeds every asset of a verified manifest to browsers over WebRTC: a member of the site swarm
// (peer/site-swarm.ts) that holds every piece, reads them from the files on disk and makes no offers
// of its own (browsers offer to it through the tracker). WebRTC in Node comes from @roamhq/wrtc,
// which installs from the npm registry alone.

import { open, type FileHandle } from 'node:fs/promises'
import { createRequire } from 'node:module'
import WebSocket from 'ws'
import type { Manifest } from '../../../core/manifest-format.ts'
import { pieceCount, pieceSize } from '../../../core/piece-math.ts'
import { createSiteSwarm, SITE_SWARM_DEFAULTS, type SiteSwarm } from '../../../peer/site-swarm.ts'
import { siteFileForPath } from '../commands/verify.ts'

export interface SeederOptions {
  siteDir: string
  /** A manifest whose files were already checked on disk. */
  manifest: Manifest
  /** Absolute ws:// or wss:// tracker URLs. */
  trackers: string[]
  /** ICE servers for WebRTC; [] is right on one machine or a LAN. */
  iceServers: RTCIceServer[]
  /** Upload cap in bytes per second; -1 for none. */
  maxUploadBytesPerSec: number
  /** Browsers connected at once. Default 64. */
  maxPeers?: number
  /** Told about tracker trouble (unreachable, refused); the seeder retries by itself. */
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
  const { manifest } = options
  if (!manifest.swarm) throw new Error('the manifest has no site swarm id: rebuild the site with this version of swarmcdn')
  const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as { RTCPeerConnection: typeof RTCPeerConnection }
  const files = new Map<string, { path: string; pieceLength: number; length: number; handle?: Promise<FileHandle> }>()
  for (const asset of manifest.assets) {
    files.set(asset.infoHash, { path: siteFileForPath(options.siteDir, manifest.scope, asset.path), pieceLength: asset.pieceLength, length: asset.length })
  }

  async function readPiece(infoHash: string, index: number): Promise<Uint8Array | undefined> {
    const file = files.get(infoHash)
    if (!file || index >= pieceCount(file.length, file.pieceLength)) return undefined
    file.handle ??= open(file.path, 'r')
    const handle = await file.handle
    const bytes = new Uint8Array(pieceSize(index, file.length, file.pieceLength))
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, index * file.pieceLength)
    return bytesRead === bytes.length ? bytes : undefined
  }

  const swarm: SiteSwarm = createSiteSwarm({
    swarmId: manifest.swarm,
    trackers: options.trackers,
    seeder: true,
    config: { ...SITE_SWARM_DEFAULTS, maxPeers: options.maxPeers ?? 64, maxUploadBytesPerSec: options.maxUploadBytesPerSec, iceServers: options.iceServers },
    RTCPeerConnection: wrtc.RTCPeerConnection,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    readPiece,
    onWarning: options.onWarning,
  })
  swarm.setAssets(manifest.assets)
  for (const asset of manifest.assets) {
    swarm.addHave(asset.infoHash, Array.from({ length: pieceCount(asset.length, asset.pieceLength) }, (_, i) => i))
  }

  let lastBytes = 0
  let lastMs = Date.now()
  let rate = 0
  return {
    stats() {
      const { peers, uploadedBytes } = swarm.stats()
      const t = Date.now()
      if (t - lastMs >= 1000) {
        rate = ((uploadedBytes - lastBytes) / (t - lastMs)) * 1000
        lastBytes = uploadedBytes
        lastMs = t
      }
      return { torrents: manifest.assets.length, peers, uploadedBytes, uploadBytesPerSec: Math.round(rate) }
    },
    async close() {
      swarm.destroy()
      await Promise.all([...files.values()].map(async (file) => (await file.handle?.catch(() => null))?.close()))
    },
  }
}
