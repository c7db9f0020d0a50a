// The page's bencoder must produce the infohash the build tools produce, or the page joins another swarm.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import bencodeLib from 'bencode'
import { createHash } from 'node:crypto'
import { bytesToBase64 } from '../core/base64.ts'
import type { ManifestAsset } from '../core/manifest-format.ts'
import { encodeTorrentFile, infoHashOf } from '../origin-tools/src/torrent-file.ts'
import { assetInfoHash, bencode, encodeAssetInfo, encodeAssetTorrent } from '../loader/agent/bencode-torrent.ts'
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

test('bencode: integers, strings, bytes, lists, dictionaries with byte-sorted keys', () => {
  const text = (value: Parameters<typeof bencode>[0]) => Buffer.from(bencode(value)).toString('latin1')
  assert.equal(text(42), 'i42e')
  assert.equal(text(-3), 'i-3e')
  assert.equal(text('spam'), '4:spam')
  assert.equal(text('é'), '2:\u00c3\u00a9', 'length counts UTF-8 bytes')
  assert.equal(text(new Uint8Array([0, 255])), '2:\u0000\u00ff')
  assert.equal(text(['a', 1, []]), 'l1:ai1elee')
  assert.equal(text({ zeta: 1, 'piece length': 2, alpha: 'x', Z: 0 }), 'd1:Zi0e5:alpha1:x12:piece lengthi2e4:zetai1ee')
  assert.throws(() => bencode(1.5), { name: 'BencodeError' })
})

test('bencode matches the bencode package on a nested value', () => {
  const value = { announce: 'wss://t.example/a', 'announce-list': [['wss://t.example/a'], ['ws://b']], info: { length: 7, name: 'x y.bin', pieces: new Uint8Array([1, 2, 3]) } }
  assert.deepEqual(Buffer.from(bencode(value)), Buffer.from(bencodeLib.encode({ ...value, info: { ...value.info, pieces: Buffer.from(value.info.pieces) } })))
})

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
