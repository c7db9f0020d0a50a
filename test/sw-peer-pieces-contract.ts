// One contract every PeerPieces passes: the SW's port to the page agents (sw/peer-source-port.ts) and
// the scripted peers the fetcher's unit tests run on (sw-fixtures.ts createFakePeers), so a fake that
// drifts from the real thing fails here rather than passing tests the real thing would fail.
// Run by sw-peer-source-port.test.ts.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ManifestAsset } from '../core/manifest-format.ts'
import type { PeerPieces } from '../sw/peer-source-port.ts'
import { PIECE, makeAsset, makeBytes, pieceOf } from './sw-fixtures.ts'

export interface PeerPiecesHarness {
  peers: PeerPieces
  /** The requesting page's connected peers now hold these pieces; resolves once `peers` can know it. */
  offer(indexes: number[]): Promise<void>
  close(): void
}

/** `hang`: pieces the peers say they hold but never send. */
export type PeerPiecesFactory = (setup: { asset: ManifestAsset; bytes: Uint8Array; hang: number[] }) => PeerPiecesHarness

const CLIENT = 'page-a'

/** Rejects with a clear message when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export function peerPiecesContract(name: string, factory: PeerPiecesFactory): void {
  const bytes = makeBytes(5 * PIECE + 321, 21)
  const asset = makeAsset(bytes, { path: '/media/contract.bin' })

  test(`${name}: a piece nobody holds is not claimed, and asking for it fails rather than waits`, async () => {
    const harness = factory({ asset, bytes, hang: [] })
    try {
      await harness.offer([1])
      assert.equal(harness.peers.has(asset.infoHash, 0, CLIENT), false)
      assert.equal(harness.peers.has('f'.repeat(40), 1, CLIENT), false, 'another asset')
      await assert.rejects(within(harness.peers.request(asset, 0, CLIENT).promise, 2000, 'a request for a piece nobody holds'), (error: Error) => !/not settled/.test(error.message))
    } finally {
      harness.close()
    }
  })

  test(`${name}: offered pieces are claimed, listeners hear their asset, and a request gives exactly the piece's bytes`, async () => {
    const harness = factory({ asset, bytes, hang: [] })
    try {
      const heard: Array<string | null> = []
      harness.peers.onAvailable((infoHash) => heard.push(infoHash))
      await harness.offer([2, 5])
      assert.equal(harness.peers.has(asset.infoHash, 2, CLIENT), true)
      assert.equal(harness.peers.has(asset.infoHash, 5, CLIENT), true)
      assert.ok(heard.includes(asset.infoHash), `listeners heard ${JSON.stringify(heard)}`)
      assert.equal(harness.peers.crowd(CLIENT), true, 'a page whose peers hold pieces is in a crowd')
      assert.deepEqual(await within(harness.peers.request(asset, 2, CLIENT).promise, 2000, 'piece 2'), pieceOf(bytes, asset, 2))
      // The short last piece.
      assert.deepEqual(await within(harness.peers.request(asset, 5, CLIENT).promise, 2000, 'piece 5'), pieceOf(bytes, asset, 5))
    } finally {
      harness.close()
    }
  })

  test(`${name}: a cancelled request settles as a failure and never delivers`, async () => {
    const harness = factory({ asset, bytes, hang: [3] })
    try {
      await harness.offer([3])
      const request = harness.peers.request(asset, 3, CLIENT)
      request.cancel()
      await assert.rejects(within(request.promise, 2000, 'a cancelled request'), (error: Error) => !/not settled/.test(error.message))
    } finally {
      harness.close()
    }
  })

  test(`${name}: an unsubscribed listener hears nothing more`, async () => {
    const harness = factory({ asset, bytes, hang: [] })
    try {
      const heard: Array<string | null> = []
      const unsubscribe = harness.peers.onAvailable((infoHash) => heard.push(infoHash))
      unsubscribe()
      await harness.offer([0, 1])
      assert.deepEqual(heard, [])
      assert.equal(harness.peers.has(asset.infoHash, 0, CLIENT), true, 'the offer itself arrived')
    } finally {
      harness.close()
    }
  })
}
