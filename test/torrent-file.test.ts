// The torrents are standard: known-answer infohash, byte-identical re-encoding, parsed by independent code.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import createTorrent from 'create-torrent'
import parseTorrent from 'parse-torrent'
import { encodeTorrentFile, infoHashOf } from '../origin-tools/src/torrent-file.ts'
import { hashFilePieces } from '../origin-tools/src/piece-hasher.ts'
import { tempDir } from './helpers/temp-dir.ts'

function sha1(data: Uint8Array): string {
  return createHash('sha1').update(data).digest('hex')
}

test('infohash of a tiny file matches a bencoding written out by hand', () => {
  const bytes = Buffer.from('hello swarm\n')
  const pieces = createHash('sha1').update(bytes).digest()
  // d6:lengthi12e4:name5:a.txt12:piece lengthi16384e6:pieces20:<20 bytes>e
  const handEncoded = Buffer.concat([
    Buffer.from('d6:lengthi12e4:name5:a.txt12:piece lengthi16384e6:pieces20:'),
    pieces,
    Buffer.from('e'),
  ])
  assert.equal(infoHashOf({ name: 'a.txt', length: 12, pieceLength: 16384, pieces }), sha1(handEncoded))
})

test('infohash and pieces match create-torrent, an independent implementation', async () => {
  const dir = await tempDir('swarmcdn-torrent-')
  const file = join(dir, 'clip.bin')
  const bytes = randomBytes(700_000)
  await writeFile(file, bytes)
  const pieceLength = 65536
  const { pieces, length } = await hashFilePieces(file, pieceLength)
  const theirs: Buffer = await new Promise((resolve, reject) =>
    createTorrent(file, { pieceLength, announceList: [], urlList: [], createdBy: 'x', creationDate: 1 }, (err: Error | null, torrent: Buffer) =>
      err ? reject(err) : resolve(torrent),
    ),
  )
  const parsed = await parseTorrent(theirs)
  assert.equal(length, bytes.length)
  assert.equal(infoHashOf({ name: 'clip.bin', length, pieceLength, pieces }), parsed.infoHash)
  assert.deepEqual(Buffer.from(pieces).toString('hex'), (parsed.pieces as string[]).join(''))
})

test('a written .torrent parses with parse-torrent: url-list, trackers, infohash', async () => {
  const bytes = randomBytes(200_000)
  const pieceLength = 65536
  const pieces = Buffer.concat(Array.from({ length: Math.ceil(bytes.length / pieceLength) }, (_, i) =>
    createHash('sha1').update(bytes.subarray(i * pieceLength, (i + 1) * pieceLength)).digest()))
  const info = { name: 'photo one.jpg', length: bytes.length, pieceLength, pieces }
  const torrent = encodeTorrentFile(info, { trackers: ['ws://localhost:8080/__swarmcdn/tracker', 'wss://t.example/'], webSeedUrl: 'http://localhost:8080/media/photo%20one.jpg' })
  const parsed = await parseTorrent(Buffer.from(torrent))
  assert.equal(parsed.infoHash, infoHashOf(info))
  assert.equal(parsed.name, 'photo one.jpg')
  assert.equal(parsed.length, bytes.length)
  assert.equal(parsed.pieceLength, pieceLength)
  assert.deepEqual(parsed.urlList, ['http://localhost:8080/media/photo%20one.jpg'])
  assert.deepEqual(parsed.announce, ['ws://localhost:8080/__swarmcdn/tracker', 'wss://t.example/'])
  assert.equal(parsed.info.private, undefined)
  // No creation date: the same input gives the same file bytes.
  assert.equal(parsed.created, undefined)
  assert.deepEqual(encodeTorrentFile(info, { trackers: ['ws://localhost:8080/__swarmcdn/tracker', 'wss://t.example/'], webSeedUrl: 'http://localhost:8080/media/photo%20one.jpg' }), torrent)
})
