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
