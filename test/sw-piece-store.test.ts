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
pieceStoreContract('IndexedDB store', (options) => createIdbPieceStore({ ...options, dbName: freshDbName(), requestPersistence: async () => true }))
pieceStoreContract('IndexedDB store, keys indexed', (options) => createIdbPieceStore({ ...options, dbName: freshDbName(), requestPersistence: async () => true, indexKeys: true }))

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
