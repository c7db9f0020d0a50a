// A misbehaving peer for tests: a real member of the site swarm (Node, WebRTC via @roamhq/wrtc) that
// claims every piece of some assets, and either serves each with one byte flipped (every piece it
// uploads fails its hash) or serves true bytes under a tiny upload cap (a trickling peer). Runs in its
// own process (scripted-seeder.ts forks it): native WebRTC must not be able to crash the test runner.

import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import WebSocket from 'ws'
import type { Manifest } from '../../core/manifest-format.ts'
import { pieceCount, pieceSize } from '../../core/piece-math.ts'
import { createSiteSwarm, SITE_SWARM_DEFAULTS, type SiteSwarm } from '../../peer/site-swarm.ts'
import type { ScriptedSeederBehaviour } from './scripted-seeder.ts'

async function seedScripted(siteDir: string, manifest: Manifest, paths: string[], trackerUrl: string, behaviour: ScriptedSeederBehaviour): Promise<SiteSwarm> {
  const wrtc = createRequire(import.meta.url)('@roamhq/wrtc')
  const files = new Map<string, Buffer>()
  const assets = manifest.assets.filter((a) => paths.includes(a.path))
  for (const asset of assets) files.set(asset.infoHash, await readFile(join(siteDir, decodeURIComponent(asset.path))))
  const swarm = createSiteSwarm({
    swarmId: manifest.swarm!,
    trackers: [trackerUrl],
    seeder: true,
    config: { ...SITE_SWARM_DEFAULTS, maxPeers: 16, maxUploadBytesPerSec: behaviour.maxUploadBytesPerSec, iceServers: [] },
    RTCPeerConnection: wrtc.RTCPeerConnection,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    async readPiece(infoHash, index) {
      const asset = assets.find((a) => a.infoHash === infoHash)!
      const start = index * asset.pieceLength
      const piece = new Uint8Array(files.get(infoHash)!.subarray(start, start + pieceSize(index, asset.length, asset.pieceLength)))
      if (behaviour.corrupt) piece[piece.length >> 1] ^= 0xff
      return piece
    },
  })
  swarm.setAssets(assets)
  for (const asset of assets) swarm.addHave(asset.infoHash, Array.from({ length: pieceCount(asset.length, asset.pieceLength) }, (_, i) => i))
  return swarm
}

process.on('message', async (message: any) => {
  if (message.type === 'start') {
    const swarm = await seedScripted(message.siteDir, message.manifest, message.paths, message.trackerUrl, message.behaviour)
    const report = () => {
      const { peers, uploadedBytes } = swarm.stats()
      if (process.connected) process.send!({ type: 'stats', peers, uploadedBytes })
    }
    process.on('message', (next: any) => {
      if (next.type === 'stats') report()
    })
    process.send!({ type: 'ready' })
    // Unasked too: the parent keeps the last report should native WebRTC crash this process.
    setInterval(report, message.reportEveryMs).unref()
  }
})
process.on('disconnect', () => process.exit(0))
