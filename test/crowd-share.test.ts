import { test } from 'node:test'
import assert from 'node:assert/strict'
import { crowdShareOf, ownerOf, ownsPiece } from '../core/crowd-share.ts'

test('members agree on their places whatever order each sees the others in', () => {
  const ids = ['c1', 'a9', 'b4']
  const places = ids.map((id) => crowdShareOf(id, ids.filter((other) => other !== id).reverse()))
  assert.deepEqual(places, [{ rank: 2, of: 3 }, { rank: 0, of: 3 }, { rank: 1, of: 3 }])
  assert.deepEqual(crowdShareOf('a9', []), { rank: 0, of: 1 })
})

test('every piece has exactly one owner, shares are even, and assets start at different members', () => {
  const hashes = ['00000000' + 'f'.repeat(32), '00000001' + 'e'.repeat(32), '0000000a' + 'd'.repeat(32)]
  const heads = new Set<number>()
  for (const infoHash of hashes) {
    const counts = [0, 0, 0, 0]
    for (let index = 0; index < 40; index++) {
      const owners = [0, 1, 2, 3].filter((rank) => ownsPiece({ rank, of: 4 }, infoHash, index))
      assert.equal(owners.length, 1, `piece ${index} of ${infoHash}: owners ${owners}`)
      counts[owners[0]!]++
    }
    assert.deepEqual(counts, [10, 10, 10, 10])
    heads.add([0, 1, 2, 3].find((rank) => ownsPiece({ rank, of: 4 }, infoHash, 0))!)
  }
  assert.equal(heads.size, 3, 'the first pieces of three assets fall to three members')
  assert.equal(ownsPiece({ rank: 0, of: 1 }, hashes[0]!, 7), true, 'alone: everything is mine')
})

test('with blocks, each member owns runs of consecutive pieces, and the blocks still go round the members', () => {
  const infoHash = '00000000' + 'f'.repeat(32)
  const owners = Array.from({ length: 24 }, (_, index) => [0, 1, 2].find((rank) => ownsPiece({ rank, of: 3 }, infoHash, index, 4))!)
  assert.deepEqual(owners, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
  assert.deepEqual(owners.map((_, index) => ownerOf({ rank: 1, of: 3 }, infoHash, index, 4)), owners, 'ownerOf names the same member from any seat')
})
