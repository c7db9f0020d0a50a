import { test } from 'node:test'
import assert from 'node:assert/strict'
import { verifyPiece } from '../sw/piece-verifier.ts'
import { makeAsset, makeBytes, pieceOf, PIECE } from './sw-fixtures.ts'

const bytes = makeBytes(3 * PIECE + 1234)
const asset = makeAsset(bytes)

test('accepts every correct piece, including the short last one', async () => {
  for (let i = 0; i < 4; i++) assert.deepEqual(await verifyPiece(asset, i, pieceOf(bytes, asset, i)), { ok: true })
})

test('rejects a tampered piece (one flipped bit)', async () => {
  const piece = pieceOf(bytes, asset, 1)
  piece[PIECE - 1] ^= 0x01
  assert.deepEqual(await verifyPiece(asset, 1, piece), { ok: false, code: 'piece-hash-mismatch' })
})

test('rejects the right bytes under the wrong index', async () => {
  assert.deepEqual(await verifyPiece(asset, 2, pieceOf(bytes, asset, 1)), { ok: false, code: 'piece-hash-mismatch' })
})

test('rejects wrong lengths and out-of-range indexes', async () => {
  assert.equal((await verifyPiece(asset, 3, pieceOf(bytes, asset, 3).subarray(1))).ok, false)
  assert.equal((await verifyPiece(asset, 0, new Uint8Array(PIECE + 1))).ok, false)
  assert.equal((await verifyPiece(asset, 4, new Uint8Array(10))).ok, false)
  assert.equal((await verifyPiece(asset, -1, new Uint8Array(PIECE))).ok, false)
})

test('each manifest text gets its own hashes: a redeployed asset object with new pieces is checked against the new ones', async () => {
  const redeployed = makeBytes(3 * PIECE + 1234, 99)
  const next = { ...makeAsset(redeployed), path: asset.path }
  assert.deepEqual(await verifyPiece(asset, 0, pieceOf(bytes, asset, 0)), { ok: true })
  assert.deepEqual(await verifyPiece(next, 0, pieceOf(bytes, asset, 0)), { ok: false, code: 'piece-hash-mismatch' }, 'the old bytes fail the new hashes')
  assert.deepEqual(await verifyPiece(next, 0, pieceOf(redeployed, next, 0)), { ok: true })
  // A copy of the first asset (a manifest parsed again) still checks against its own text.
  assert.deepEqual(await verifyPiece({ ...asset }, 1, pieceOf(bytes, asset, 1)), { ok: true })
})
