// The page's torrent must carry the infohash the build tools produce, or the page joins another swarm.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import bencodeLib from 'bencode'
import { createHash } from 'node:crypto'
import { bytesToBase64 } from '../core/base64.ts'
import type { ManifestAsset } from '../core/manifest-format.ts'
import { encodeTorrentFile, infoHashOf } from '../origin-tools/src/torrent-file.ts'
import { assetInfoHash, encodeAssetInfo, encodeAssetTorrent } from '../loader/agent/asset-torrent.ts'
import { makeBytes } from './sw-fixtures.ts'

function realAsset(path: string, length: number, pieceLength: number): { asset: ManifestAsset; pieces: Uint8Array; name: string } {
  const bytes = makeBytes(length, length)
  const hashes: Buffer[] = []
  for (let offset = 0; offset < length; offset += pieceLength) hashes.push(createHash('sha1').update(bytes.subarray(offset, offset + pieceLength)).digest())
  const pieces = new Uint8Array(Buffer.concat(hashes))
  const name = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1))
  const infoHash = infoHashOf({ name, length, pieceLength, pieces })
  return { asset: { path, length, type: 'application/octet-stream', pieceLength, pieces: bytesToBase64(pieces), infoHash }, pieces, name }
}

for (const [path, length, pieceLength] of [
  ['/media/video.mp4', 5 * 65536 + 17, 65536],
  ['/img/caf%C3%A9%20au%20lait.jpg', 16384 * 3, 16384],
  ['/downloads/%E6%97%A5%E6%9C%AC.zip', 1, 16384],
] as const) {
  test(`infohash computed in the page equals infoHashOf for ${path}`, async () => {
    const { asset, pieces, name } = realAsset(path, length, pieceLength)
    assert.equal(await assetInfoHash(asset), asset.infoHash)
    assert.deepEqual(Buffer.from(encodeAssetInfo(asset)), Buffer.from(bencodeLib.encode({ length, name: Buffer.from(name), 'piece length': pieceLength, pieces: Buffer.from(pieces) })))
  })
}

test('a changed byte in any info field changes the infohash', async () => {
  const { asset } = realAsset('/media/a.bin', 40000, 16384)
  assert.notEqual(await assetInfoHash({ ...asset, path: '/media/b.bin' }), asset.infoHash)
  assert.notEqual(await assetInfoHash({ ...asset, length: asset.length - 1 }), asset.infoHash)
})

test('the page .torrent decodes to the same info as the build tools’ .torrent, with the given trackers', async () => {
  const { asset, pieces, name } = realAsset('/media/clip%201.webm', 100000, 32768)
  const trackers = ['wss://site.example/__swarmcdn/tracker', 'wss://other.example/t']
  const ours = bencodeLib.decode(encodeAssetTorrent(asset, trackers))
  const theirs = bencodeLib.decode(encodeTorrentFile({ name, length: asset.length, pieceLength: asset.pieceLength, pieces }, { trackers }))
  assert.deepEqual(Buffer.from(bencodeLib.encode(ours.info)), Buffer.from(bencodeLib.encode(theirs.info)))
  assert.equal(Buffer.from(ours.announce).toString(), trackers[0])
  assert.deepEqual(
    ours['announce-list'].map((tier: Uint8Array[]) => tier.map((url) => Buffer.from(url).toString())),
    trackers.map((t) => [t]),
  )
  assert.equal(ours['url-list'], undefined, 'no webseed for the agent')
  const parsed = await (await import('parse-torrent')).default(Buffer.from(encodeAssetTorrent(asset, trackers)))
  assert.equal(parsed.infoHash, asset.infoHash)
})
