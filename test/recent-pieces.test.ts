import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRecentPieces } from '../sw/recent-pieces.ts'

test('recent pieces: served from memory, the least recently stored dropped past the byte bound', () => {
  const recent = createRecentPieces(3 * 1024)
  const piece = (fill: number) => new Uint8Array(1024).fill(fill)
  for (let index = 0; index < 4; index++) recent.add('h', index, piece(index))
  assert.equal(recent.get('h', 0), undefined, 'the oldest went')
  assert.deepEqual(recent.get('h', 3), piece(3))
  assert.equal(recent.bytes(), 3 * 1024)
  recent.add('h', 1, piece(9)) // stored again: newest now, counted once
  recent.add('h', 4, piece(4))
  assert.equal(recent.get('h', 2), undefined)
  assert.deepEqual(recent.get('h', 1), piece(9))
  assert.equal(recent.bytes(), 3 * 1024)
  recent.add('h', 5, new Uint8Array(4 * 1024))
  assert.equal(recent.get('h', 5), undefined, 'a piece larger than the bound is not kept')
  assert.equal(createRecentPieces(0).get('h', 1), undefined)
})
