import 'fake-indexeddb/auto'
import { test } from 'node:test'
import { openDB } from 'idb'
import assert from 'node:assert/strict'
import { createIdbPieceStore } from '../sw/piece-store-idb.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { pieceStoreContract } from './sw-piece-store-contract.ts'
import { makeBytes } from './sw-fixtures.ts'

let dbCounter = 0
const freshDbName = () => `swarmcdn-pieces-test-${process.pid}-${dbCounter++}`

pieceStoreContract('memory store', (options) => createMemoryPieceStore(options))
// One without the wait for more pieces (group commit alone), one with a short wait.
pieceStoreContract('IndexedDB store', (options) => createIdbPieceStore({ ...options, dbName: freshDbName(), requestPersistence: async () => true, gatherMs: 0 }))
pieceStoreContract('IndexedDB store, keys indexed', (options) => createIdbPieceStore({ ...options, dbName: freshDbName(), requestPersistence: async () => true, indexKeys: true, gatherMs: 5 }))

test('IndexedDB store, keys indexed: finds what was stored before it started, and answers a miss without a transaction', async () => {
  const dbName = freshDbName()
  const hash = 'f'.repeat(40)
  await createIdbPieceStore({ budgetBytes: 1000, dbName }).put(hash, 3, makeBytes(40, 3))
  const store = createIdbPieceStore({ budgetBytes: 1000, dbName, indexKeys: true })
  assert.deepEqual(await store.get(hash, 3), makeBytes(40, 3), 'stored by an earlier instance')
  const transaction = IDBDatabase.prototype.transaction
  let opened = 0
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
    opened++
    return transaction.apply(this, args)
  }
  try {
    assert.equal(await store.get(hash, 4), undefined)
    assert.equal(await store.getBlob(hash, 5), undefined)
    assert.equal(await store.has(hash, 6), false)
    assert.equal(opened, 0, 'misses answered from memory')
    assert.equal(await store.has(hash, 3), true)
    assert.ok(opened > 0, 'a hit reads the database')
  } finally {
    IDBDatabase.prototype.transaction = transaction
  }
  await store.put(hash, 4, makeBytes(40, 4))
  assert.deepEqual(await store.get(hash, 4), makeBytes(40, 4), 'what it writes is indexed')
  await store.deleteAsset(hash)
  assert.equal(await store.has(hash, 4), false)
})

test('IndexedDB store: pieces and usage survive reopening the database', async () => {
  const dbName = freshDbName()
  const first = createIdbPieceStore({ budgetBytes: 1000, dbName })
  await first.put('c'.repeat(40), 7, makeBytes(123, 9))
  const second = createIdbPieceStore({ budgetBytes: 1000, dbName })
  assert.deepEqual(await second.get('c'.repeat(40), 7), makeBytes(123, 9))
  assert.equal(await second.usageBytes(), 123)
})

test('IndexedDB store: records written as bytes by earlier versions are read by get and getBlob', async () => {
  const dbName = freshDbName()
  const store = createIdbPieceStore({ budgetBytes: 1000, dbName })
  await store.put('e'.repeat(40), 1, makeBytes(50, 4)) // creates the schema
  const db = await openDB(dbName)
  await db.put('pieces', makeBytes(60, 5), `${'e'.repeat(40)}:2`)
  db.close()
  assert.deepEqual(await store.get('e'.repeat(40), 2), makeBytes(60, 5))
  const blob = await store.getBlob('e'.repeat(40), 2)
  assert.ok(blob, 'blob')
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), makeBytes(60, 5))
})

/** Puts pieces 0..count-1 of one asset at once, after a first piece (index 100) that goes alone: the rest queue behind it and share a transaction. */
async function putAtOnce(store: ReturnType<typeof createIdbPieceStore>, hash: string, count: number, size: number): Promise<void> {
  const puts = [store.put(hash, 100, makeBytes(size, 99))]
  for (let index = 0; index < count; index++) puts.push(store.put(hash, index, makeBytes(size, index + 1)))
  assert.ok((await Promise.all(puts)).every(Boolean))
}

/** The raw records: keys of 'pieces' and of 'lru'. */
async function rawKeys(dbName: string): Promise<{ pieces: string[]; lru: string[] }> {
  const db = await openDB(dbName)
  const keys = { pieces: (await db.getAllKeys('pieces')) as string[], lru: (await db.getAllKeys('lru')) as string[] }
  db.close()
  return keys
}

test('IndexedDB store: adjacent pieces written together share one record (a run), at most 1 MiB each; an older reader of \'pieces\' alone finds them missing', async () => {
  const dbName = freshDbName()
  const hash = '1'.repeat(40)
  const store = createIdbPieceStore({ budgetBytes: 1 << 24, dbName })
  await putAtOnce(store, hash, 20, 64 * 1024) // 1.25 MiB: a run of 16 pieces and one of 4
  const keys = await rawKeys(dbName)
  assert.deepEqual(keys.pieces.sort(), [`${hash}:100`, `run:${hash}:0+16`, `run:${hash}:16+4`].sort())
  assert.equal(keys.lru.length, 21, 'every piece keeps its LRU record')
  for (let index = 0; index < 20; index++) assert.deepEqual(await store.get(hash, index), makeBytes(64 * 1024, index + 1), `piece ${index}`)
  const db = await openDB(dbName)
  assert.equal(await db.get('pieces', `${hash}:3`), undefined, 'no record under a run member\'s own key')
  db.close()
})

test('IndexedDB store: pieces that come one by one within the wait share a record; a run\'s worth queued is written at once', async () => {
  const dbName = freshDbName()
  const hash = '5'.repeat(40)
  const store = createIdbPieceStore({ budgetBytes: 1 << 24, dbName, gatherMs: 1000 })
  const puts: Promise<boolean>[] = []
  for (let index = 0; index < 3; index++) {
    puts.push(store.put(hash, index, makeBytes(100, index + 1)))
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.ok((await Promise.all(puts)).every(Boolean))
  assert.deepEqual((await rawKeys(dbName)).pieces, [`run:${hash}:0+3`])

  const patient = createIdbPieceStore({ budgetBytes: 1 << 24, dbName: freshDbName(), gatherMs: 60_000 })
  const big = Promise.all(Array.from({ length: 16 }, (_, index) => patient.put(hash, 10 + index, makeBytes(64 * 1024, index))))
  const late = new Promise<'waited'>((resolve) => setTimeout(resolve, 5000, 'waited').unref())
  assert.notEqual(await Promise.race([big, late]), 'waited', '1 MiB queued waits for nothing more')
})

test('IndexedDB store: deleteAsset drops the asset\'s writes still queued, so a write asked for before the delete cannot land after it', { timeout: 10_000 }, async () => {
  const hash = '6'.repeat(40)
  const other = '7'.repeat(40)
  const store = createIdbPieceStore({ budgetBytes: 1 << 20, dbName: freshDbName(), gatherMs: 60_000 })
  const queued = store.put(hash, 0, makeBytes(100, 1))
  const kept = store.put(other, 0, makeBytes(100, 2))
  const deleted = store.deleteAsset(hash)
  assert.equal(await queued, false, 'the queued write is dropped')
  await deleted
  const fill = Array.from({ length: 16 }, (_, index) => store.put(other, 1 + index, makeBytes(64 * 1024, index))) // 1 MiB queued ends the wait
  assert.ok((await Promise.all([kept, ...fill])).every(Boolean), 'other assets\' writes are kept')
  assert.equal(await store.has(hash, 0), false)
  assert.deepEqual(await store.get(other, 0), makeBytes(100, 2))
})

test('IndexedDB store: a run is evicted whole, and deleteAsset leaves none of its records behind', async () => {
  const dbName = freshDbName()
  const hash = '2'.repeat(40)
  const other = '3'.repeat(40)
  const told: string[] = []
  const store = createIdbPieceStore({ budgetBytes: 1000, dbName, onEvicted: (hashes) => told.push(...hashes) })
  await putAtOnce(store, hash, 4, 100) // piece 100 alone, then a run of 0..3
  assert.equal(await store.usageBytes(), 500)
  await store.get(hash, 100) // the lone piece is now the most recently used
  await store.put(other, 0, makeBytes(600, 7)) // 1100 > 1000: the least recently used piece goes, and its run with it
  assert.deepEqual(told, [hash])
  for (let index = 0; index < 4; index++) assert.equal(await store.has(hash, index), false, `piece ${index}`)
  assert.equal(await store.has(hash, 100), true)
  assert.equal(await store.usageBytes(), 700)
  await store.deleteAsset(other)
  await store.deleteAsset(hash)
  assert.deepEqual(await rawKeys(dbName), { pieces: [], lru: [] })
  assert.equal(await store.usageBytes(), 0)
})

test('IndexedDB store: a piece of a run put again keeps the run whole; a piece not yet written is read and held already', async () => {
  const dbName = freshDbName()
  const hash = '4'.repeat(40)
  const told: string[] = []
  const store = createIdbPieceStore({ budgetBytes: 1 << 20, dbName, onEvicted: (hashes) => told.push(...hashes), indexKeys: true, gatherMs: 0 })
  await putAtOnce(store, hash, 3, 100)
  assert.equal(await store.put(hash, 1, makeBytes(100, 2)), true)
  for (let index = 0; index < 3; index++) assert.deepEqual(await store.get(hash, index), makeBytes(100, index + 1), `piece ${index}`)
  assert.deepEqual(told, [])
  assert.equal(await store.usageBytes(), 400)

  // Making room for new pieces never takes a piece of a run that was just put again.
  const tight = createIdbPieceStore({ budgetBytes: 400, dbName: freshDbName(), gatherMs: 20 })
  assert.ok((await Promise.all([0, 1, 2].map((index) => tight.put(hash, index, makeBytes(100, index + 1))))).every(Boolean)) // a run, the least recently used
  assert.equal(await tight.put(hash, 100, makeBytes(100, 99)), true)
  const again = tight.put(hash, 1, makeBytes(100, 2))
  const newcomer = tight.put(hash, 50, makeBytes(100, 51)) // in the same batch: 500 > 400, something must go
  assert.deepEqual(await Promise.all([again, newcomer]), [true, true])
  assert.deepEqual(await tight.get(hash, 1), makeBytes(100, 2), 'the piece put again is still held')
  assert.equal(await tight.has(hash, 100), false, 'the lone piece went instead')
  assert.ok((await tight.usageBytes()) <= 400)

  const waiting = createIdbPieceStore({ budgetBytes: 1 << 20, dbName: freshDbName(), gatherMs: 60_000, indexKeys: true })
  void waiting.put(hash, 7, makeBytes(100, 8))
  assert.equal(await waiting.has(hash, 7), true, 'queued: held')
  assert.deepEqual(await waiting.get(hash, 7), makeBytes(100, 8))
  assert.deepEqual(new Uint8Array(await (await waiting.getBlob(hash, 7))!.arrayBuffer()), makeBytes(100, 8))
  await waiting.deleteAsset(hash) // ends the wait: the queued write is dropped
  assert.equal(await waiting.has(hash, 7), false)
})

test('IndexedDB store: persistence is requested once, and its failure is harmless', async () => {
  let asked = 0
  const store = createIdbPieceStore({
    budgetBytes: 1000,
    dbName: freshDbName(),
    requestPersistence: async () => {
      asked++
      throw new Error('not allowed')
    },
  })
  assert.equal(await store.put('d'.repeat(40), 0, makeBytes(10, 1)), true)
  assert.equal(await store.put('d'.repeat(40), 1, makeBytes(10, 2)), true)
  assert.equal(asked, 1)
})
