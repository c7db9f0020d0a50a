// A lying peer for tests: a real WebTorrent seeder (Node, WebRTC via @roamhq/wrtc) whose chunk store
// returns altered bytes, so every piece it uploads fails its hash. Runs in its own process
// (corrupt-seeder.ts forks it): native WebRTC must not be able to crash the test runner.

import WebTorrent from 'webtorrent'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeTorrentFile, torrentInfoOf } from '../../origin-tools/src/torrent-file.ts'
import type { Manifest } from '../../core/manifest-format.ts'

/** abstract-chunk-store over a buffer; get() flips one byte of every chunk it returns. */
function corruptingStore(bytes: Buffer) {
  return class CorruptingStore {
    chunkLength: number
    constructor(chunkLength: number) {
      this.chunkLength = chunkLength
    }
    put(_index: number, _buf: Uint8Array, cb: (err: Error | null) => void) {
      cb(null)
    }
    get(index: number, opts: { offset?: number; length?: number } | null, cb: (err: Error | null, buf?: Uint8Array) => void) {
      if (typeof opts === 'function') [cb, opts] = [opts, null]
      const start = index * this.chunkLength + (opts?.offset ?? 0)
      const piece = Buffer.from(bytes.subarray(start, Math.min(bytes.length, start + (opts?.length ?? this.chunkLength))))
      if (piece.length > 0) piece[piece.length >> 1] ^= 0xff
      queueMicrotask(() => cb(null, piece))
    }
    close(cb: (err: Error | null) => void) {
      cb(null)
    }
    destroy(cb: (err: Error | null) => void) {
      cb(null)
    }
  }
}

async function seedCorrupted(siteDir: string, manifest: Manifest, paths: string[], trackerUrl: string): Promise<WebTorrent> {
  const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false, torrentPort: 0, tracker: { rtcConfig: { iceServers: [] } } })
  client.on('error', () => {})
  for (const path of paths) {
    const asset = manifest.assets.find((a) => a.path === path)!
    const bytes = await readFile(join(siteDir, decodeURIComponent(path)))
    const torrentFile = encodeTorrentFile(torrentInfoOf(asset), { trackers: [trackerUrl] })
    await new Promise<void>((resolve) => {
      // skipVerify: it claims every piece without checking, which is the point.
      const torrent = client.add(Buffer.from(torrentFile), { store: corruptingStore(bytes), skipVerify: true, getAnnounceOpts: () => ({ numwant: 0 }) })
      torrent.on('error', () => {})
      torrent.once('ready', () => resolve())
    })
  }
  return client
}

process.on('message', async (message: any) => {
  if (message.type === 'start') {
    const client = await seedCorrupted(message.siteDir, message.manifest, message.paths, message.trackerUrl)
    process.on('message', (next: any) => {
      if (next.type === 'stats') {
        process.send!({
          type: 'stats',
          peers: client.torrents.reduce((sum: number, t: any) => sum + t.numPeers, 0),
          uploadedBytes: client.torrents.reduce((sum: number, t: any) => sum + t.uploaded, 0),
        })
      }
    })
    process.send!({ type: 'ready' })
  }
})
process.on('disconnect', () => process.exit(0))
