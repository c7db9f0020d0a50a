import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBadPeerTracker, failedPieceIndex } from '../loader/agent/bad-peer-tracker.ts'

test('a failed piece strikes every contributor; the second strike bans', () => {
  const tracker = createBadPeerTracker({ maxBadPiecesPerPeer: 2 })
  tracker.contributed('h:1', 'alice')
  tracker.contributed('h:1', 'bob')
  tracker.contributed('h:1', 'bob') // several blocks, one strike per piece
  assert.deepEqual(tracker.failed('h:1'), [])
  assert.equal(tracker.strikes('alice'), 1)
  assert.equal(tracker.strikes('bob'), 1)
  tracker.contributed('h:2', 'bob')
  assert.deepEqual(tracker.failed('h:2'), ['bob'])
  assert.equal(tracker.isBanned('bob'), true)
  assert.equal(tracker.isBanned('alice'), false)
  // Banned once: a later failure does not report it again.
  tracker.contributed('h:3', 'bob')
  assert.deepEqual(tracker.failed('h:3'), [])
})

test('a verified piece strikes nobody, and its contributors are cleared for the next round', () => {
  const tracker = createBadPeerTracker({ maxBadPiecesPerPeer: 1 })
  tracker.contributed('h:5', 'carol')
  tracker.verified('h:5')
  tracker.contributed('h:5', 'dave')
  assert.deepEqual(tracker.failed('h:5'), ['dave'])
  assert.equal(tracker.isBanned('carol'), false)
})

test('a late bad-piece verdict (from the SW) strikes the contributors of a verified piece, once', () => {
  const tracker = createBadPeerTracker({ maxBadPiecesPerPeer: 1, rememberVerifiedPieces: 2 })
  tracker.contributed('h:1', 'erin')
  tracker.verified('h:1')
  assert.deepEqual(tracker.failed('h:1'), ['erin'])
  assert.deepEqual(tracker.failed('h:1'), [], 'not struck twice for the same piece')
  // Only the last `rememberVerifiedPieces` verified pieces are remembered.
  for (const [key, peer] of [['h:2', 'p2'], ['h:3', 'p3'], ['h:4', 'p4']] as const) {
    tracker.contributed(key, peer)
    tracker.verified(key)
  }
  assert.deepEqual(tracker.failed('h:2'), [])
  assert.deepEqual(tracker.failed('h:4'), ['p4'])
})

test('an unknown piece or a forgotten one strikes nobody', () => {
  const tracker = createBadPeerTracker({ maxBadPiecesPerPeer: 1 })
  assert.deepEqual(tracker.failed('h:9'), [])
  tracker.contributed('h:9', 'frank')
  tracker.forget('h:9')
  assert.deepEqual(tracker.failed('h:9'), [])
  assert.equal(tracker.strikes('frank'), 0)
})

test('failedPieceIndex reads webtorrent’s warning and nothing else', () => {
  assert.equal(failedPieceIndex(new Error('Piece 17 failed verification')), 17)
  assert.equal(failedPieceIndex('Piece 0 failed verification'), 0)
  assert.equal(failedPieceIndex(new Error('Piece 17 failed verification because')), null)
  assert.equal(failedPieceIndex(new Error('tracker error')), null)
  assert.equal(failedPieceIndex(undefined), null)
})
