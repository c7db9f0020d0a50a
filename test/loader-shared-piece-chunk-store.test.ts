import 'fake-indexeddb/auto'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bitfieldOf, createSharedChunkStoreClass, storedIndexes, type ChunkStore } from '../loader/agent/shared-piece-chunk-store.ts'
import { createStoredIndexLister } from '../loader/agent/stored-index-lister.ts'
import { createIdbPieceStore } from '../sw/piece-store-idb.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import type { PieceStore } from '../sw/piece-store.ts'
import { makeBytes } from './sw-fixtures.ts'

const H = 'c'.repeat(40)
const CHUNK = 1024
const LENGTH = 3 * CHUNK + 100

const put = (store: ChunkStore, index: number, buf: Uint8Array) => new Promise<void>((resolve, reject) => store.put(index, buf, (error) => (error ? reject(error) : resolve())))
const get = (store: ChunkStore, index: number, opts?: { offset?: number; length?: number }) =>
  new Promise<Uint8Array>((resolve, reject) => store.get(index, opts ?? null, (error, buf) => (error ? reject(error) : resolve(buf!))))

let dbCounter = 0
const idbStore = () => createIdbPieceStore({ budgetBytes: 1 << 20, dbName: `agent-store-${process.pid}-${dbCounter++}`, requestPersistence: async () => false })

for (const [name, makePieces] of [
  ['memory', () => createMemoryPieceStore({ budgetBytes: 1 << 20 })],
  ['IndexedDB', idbStore],
] as const) {
  test(`chunk store on the ${name} piece store: what webtorrent puts, the SW's store holds (and back)`, async () => {
    const pieces: PieceStore = makePieces()
    const Store = createSharedChunkStoreClass(pieces)
    const store = new Store(CHUNK, { torrent: { infoHash: H }, length: LENGTH })
    assert.equal(store.chunkLength, CHUNK)
    const data = makeBytes(LENGTH, 5)
    await put(store, 0, data.slice(0, CHUNK))
    await put(store, 3, data.slice(3 * CHUNK))
    assert.deepEqual(await pieces.get(H, 0), data.slice(0, CHUNK), 'written to the shared store under the infohash')
    assert.deepEqual(await get(store, 3), data.slice(3 * CHUNK))
    assert.deepEqual(await get(store, 0, { offset: 100, length: 50 }), data.slice(100, 150))
    // Pieces the SW stored are served by the agent too.
    await pieces.put(H, 1, data.slice(CHUNK, 2 * CHUNK))
    assert.deepEqual(await get(store, 1, { offset: 1000 }), data.slice(CHUNK + 1000, 2 * CHUNK))
    await assert.rejects(get(store, 2), { code: 'chunk-missing' })
    await assert.rejects(put(store, 2, data.slice(0, 10)), { code: 'chunk-length-invalid' })
    await assert.rejects(put(store, 3, data.slice(0, CHUNK)), { code: 'chunk-length-invalid' }, 'the last chunk is short')
    assert.deepEqual(await storedIndexes(pieces, H, 4), [0, 1, 3])
    await new Promise<void>((resolve) => store.destroy(() => resolve()))
    assert.deepEqual(await pieces.get(H, 0), data.slice(0, CHUNK), 'destroy never deletes the SW’s pieces')
    await assert.rejects(get(store, 0), { code: 'chunk-store-closed' })
  })
}

test('a piece the store refuses (over budget) is kept in memory so peers can still be served', async () => {
  const pieces = createMemoryPieceStore({ budgetBytes: 10 })
  const Store = createSharedChunkStoreClass(pieces)
  const store = new Store(CHUNK, { infoHash: H, length: LENGTH })
  const chunk = makeBytes(CHUNK, 8)
  await put(store, 1, chunk)
  assert.equal(await pieces.get(H, 1), undefined)
  assert.deepEqual(await get(store, 1), chunk)
})

test('a view into a larger buffer is stored as its own bytes', async () => {
  const pieces = createMemoryPieceStore({ budgetBytes: 1 << 20 })
  const seen: Uint8Array[] = []
  const spy: PieceStore = { ...pieces, put: (h, i, b) => (seen.push(b), pieces.put(h, i, b)) }
  const store = new (createSharedChunkStoreClass(spy))(CHUNK, { infoHash: H, length: LENGTH })
  const big = makeBytes(4 * CHUNK, 2)
  await put(store, 0, big.subarray(CHUNK, 2 * CHUNK))
  assert.equal(seen[0]!.buffer.byteLength, CHUNK)
  assert.deepEqual(seen[0], big.slice(CHUNK, 2 * CHUNK))
})

test('the index lister finds an asset’s pieces in the SW’s IndexedDB with one query', async () => {
  const pieces = idbStore()
  const dbName = `agent-store-${process.pid}-${dbCounter - 1}`
  await pieces.put(H, 4, makeBytes(10, 1))
  await pieces.put(H, 0, makeBytes(10, 2))
  await pieces.put('d'.repeat(40), 1, makeBytes(10, 3))
  let hasCalls = 0
  const counting: PieceStore = { ...pieces, has: (h, i) => (hasCalls++, pieces.has(h, i)) }
  const list = createStoredIndexLister(counting, dbName)
  assert.deepEqual(await list(H, 5), [0, 4])
  assert.deepEqual(await list(H, 3), [0], 'indexes beyond the asset are ignored')
  assert.deepEqual(await list('e'.repeat(40), 5), [])
  assert.equal(hasCalls, 1, 'only the one that makes sure the database exists')
})

test('the index lister on a database without the schema falls back to has()', async () => {
  const pieces = createMemoryPieceStore({ budgetBytes: 1 << 20 })
  await pieces.put(H, 2, makeBytes(10, 1))
  assert.deepEqual(await createStoredIndexLister(pieces, `no-such-schema-${process.pid}`)(H, 4), [2])
})

test('bitfieldOf: most significant bit first, as webtorrent’s bitfield reads it', () => {
  assert.deepEqual([...bitfieldOf([0, 7, 8, 9], 10)], [0b1000_0001, 0b1100_0000])
  assert.deepEqual([...bitfieldOf([], 1)], [0])
  assert.deepEqual([...bitfieldOf([5, 99], 6)], [0b0000_0100])
})

test('a piece the SW evicted is no longer claimed: the torrent marks it unverified', async () => {
  const pieces = createMemoryPieceStore({ budgetBytes: 1 << 20 })
  const unverified: number[] = []
  const torrent = { infoHash: 'ab'.repeat(20), _markUnverified: (index: number) => unverified.push(index) }
  const Store = createSharedChunkStoreClass(pieces)
  const store = new Store(16384, { torrent, length: 3 * 16384 }) as ChunkStore
  await new Promise<void>((resolve, reject) => store.put(1, makeBytes(16384, 9), (err) => (err ? reject(err) : resolve())))
  const got = await new Promise<Uint8Array | undefined>((resolve) => store.get(1, null, (_err, buf) => resolve(buf)))
  assert.equal(got?.length, 16384)
  assert.deepEqual(unverified, [])
  await pieces.deleteAsset(torrent.infoHash)
  const error = await new Promise<Error | null>((resolve) => store.get(1, null, (err) => resolve(err)))
  assert.match(String(error?.message), /not found/)
  assert.deepEqual(unverified, [1])
})
