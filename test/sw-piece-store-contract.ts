// One contract every PieceStore passes (cf. abstract-chunk-store's tests). Run by sw-piece-store.test.ts.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PieceStore } from '../sw/piece-store.ts'
import { makeBytes } from './sw-fixtures.ts'

export type PieceStoreFactory = (options: { budgetBytes: number; onEvicted?: (infoHashes: ReadonlySet<string>) => void }) => PieceStore | Promise<PieceStore>

const H1 = 'a'.repeat(40)
const H2 = 'b'.repeat(40)

export function pieceStoreContract(name: string, factory: PieceStoreFactory): void {
  test(`${name}: put/get round trip returns equal bytes`, async () => {
    const store = await factory({ budgetBytes: 1 << 20 })
    const piece = makeBytes(1000, 11)
    assert.equal(await store.put(H1, 3, piece), true)
    const got = await store.get(H1, 3)
    assert.ok(got instanceof Uint8Array, 'got instanceof Uint8Array')
    assert.deepEqual(got, piece)
    assert.equal(await store.has(H1, 3), true)
    assert.equal(await store.usageBytes(), 1000)
  })

  test(`${name}: getBlob returns the same bytes as a Blob; missing → undefined`, async () => {
    const store = await factory({ budgetBytes: 1 << 20 })
    const piece = makeBytes(5000, 13)
    await store.put(H1, 2, piece)
    const blob = await store.getBlob(H1, 2)
    assert.ok(blob instanceof Blob, 'blob instanceof Blob')
    assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), piece)
    assert.equal(await store.getBlob(H1, 3), undefined)
    assert.equal(await store.getBlob(H2, 2), undefined)
  })

  test(`${name}: a stored piece does not change when the caller reuses its buffer`, async () => {
    const store = await factory({ budgetBytes: 1 << 20 })
    const piece = makeBytes(100, 12)
    const copy = piece.slice()
    await store.put(H1, 0, piece)
    piece.fill(0)
    assert.deepEqual(await store.get(H1, 0), copy)
  })

  test(`${name}: missing → undefined; keys are (infoHash, index)`, async () => {
    const store = await factory({ budgetBytes: 1 << 20 })
    assert.equal(await store.get(H1, 0), undefined)
    await store.put(H1, 0, makeBytes(10, 1))
    assert.equal(await store.get(H1, 1), undefined)
    assert.equal(await store.get(H2, 0), undefined)
    assert.equal(await store.has(H2, 0), false)
  })

  test(`${name}: overwriting a piece does not double-count usage`, async () => {
    const store = await factory({ budgetBytes: 1 << 20 })
    await store.put(H1, 0, makeBytes(100, 1))
    await store.put(H1, 0, makeBytes(100, 2))
    assert.equal(await store.usageBytes(), 100)
    assert.deepEqual(await store.get(H1, 0), makeBytes(100, 2))
  })

  test(`${name}: the budget evicts least recently used pieces (get counts as use)`, async () => {
    const store = await factory({ budgetBytes: 300 })
    await store.put(H1, 0, makeBytes(100, 1))
    await store.put(H1, 1, makeBytes(100, 2))
    await store.put(H2, 0, makeBytes(100, 3))
    assert.deepEqual(await store.get(H1, 0), makeBytes(100, 1)) // H1:0 is now the most recent
    await store.put(H2, 1, makeBytes(100, 4)) // evicts H1:1, the least recently used
    assert.equal(await store.has(H1, 1), false)
    assert.equal(await store.has(H1, 0), true)
    assert.equal(await store.has(H2, 0), true)
    assert.equal(await store.has(H2, 1), true)
    assert.equal(await store.usageBytes(), 300)
    await store.put(H2, 2, makeBytes(250, 5)) // needs three evictions
    assert.equal(await store.usageBytes(), 250)
    assert.deepEqual(await store.get(H2, 2), makeBytes(250, 5))
    assert.equal(await store.has(H1, 0), false)
  })

  test(`${name}: eviction tells which assets lost pieces (their whole copies must go too)`, async () => {
    const told: string[][] = []
    const store = await factory({ budgetBytes: 300, onEvicted: (infoHashes) => told.push([...infoHashes].sort()) })
    await store.put(H1, 0, makeBytes(100, 1))
    await store.put(H1, 1, makeBytes(100, 2))
    await store.put(H2, 0, makeBytes(100, 3))
    await store.put(H2, 1, makeBytes(100, 4)) // evicts H1:0
    assert.deepEqual(told, [[H1]])
    await store.put(H2, 2, makeBytes(250, 5)) // evicts H1:1, H2:0, H2:1
    assert.deepEqual(told, [[H1], [H1, H2]])
    await store.deleteAsset(H2) // not an eviction
    await store.put(H1, 3, makeBytes(50, 6)) // fits
    assert.deepEqual(told, [[H1], [H1, H2]])
  })

  test(`${name}: pieces put at once (adjacent ones, out of order, two assets) read back byte for byte, and count once`, async () => {
    const store = await factory({ budgetBytes: 1 << 20 })
    const sizes = [100, 100, 100, 100, 100, 37] // the last piece of an asset is short
    const order = [3, 0, 5, 1, 4, 2]
    const puts = order.map((index) => store.put(H1, index, makeBytes(sizes[index], 20 + index)))
    puts.push(store.put(H2, 4, makeBytes(50, 30)), store.put(H1, 9, makeBytes(100, 29)))
    assert.deepEqual(await Promise.all(puts), puts.map(() => true))
    for (const index of order) {
      assert.deepEqual(await store.get(H1, index), makeBytes(sizes[index], 20 + index), `piece ${index}`)
      const blob = await store.getBlob(H1, index)
      assert.deepEqual(new Uint8Array(await blob!.arrayBuffer()), makeBytes(sizes[index], 20 + index), `piece ${index} as a Blob`)
      assert.equal(await store.has(H1, index), true)
    }
    assert.deepEqual(await store.get(H2, 4), makeBytes(50, 30))
    assert.deepEqual(await store.get(H1, 9), makeBytes(100, 29))
    assert.equal(await store.get(H1, 6), undefined)
    assert.equal(await store.usageBytes(), 537 + 50 + 100)
    assert.equal(await store.put(H1, 2, makeBytes(100, 22)), true) // one of them again (a checked piece: the same bytes)
    assert.deepEqual(await store.get(H1, 2), makeBytes(100, 22))
    assert.equal(await store.usageBytes(), 537 + 50 + 100, 'a piece put again is not counted twice')
    await store.deleteAsset(H1)
    assert.equal(await store.usageBytes(), 50)
    for (const index of [...order, 9]) assert.equal(await store.has(H1, index), false)
  })

  test(`${name}: a piece bigger than the budget is refused, nothing evicted`, async () => {
    const store = await factory({ budgetBytes: 100 })
    await store.put(H1, 0, makeBytes(60, 1))
    assert.equal(await store.put(H1, 1, makeBytes(101, 2)), false)
    assert.equal(await store.has(H1, 0), true)
    assert.equal(await store.usageBytes(), 60)
  })

  test(`${name}: deleteAsset removes that asset's pieces only`, async () => {
    const store = await factory({ budgetBytes: 1 << 20 })
    await store.put(H1, 0, makeBytes(10, 1))
    await store.put(H1, 1, makeBytes(20, 2))
    await store.put(H2, 0, makeBytes(30, 3))
    await store.deleteAsset(H1)
    assert.equal(await store.get(H1, 0), undefined)
    assert.equal(await store.get(H1, 1), undefined)
    assert.deepEqual(await store.get(H2, 0), makeBytes(30, 3))
    assert.equal(await store.usageBytes(), 30)
  })
}
