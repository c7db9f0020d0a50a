// Issue 11, a hang found by `npm run bench:sw`: the home page's agent opened the shared piece database
// first, so it created it (a version-change transaction), and the page entered Chromium's
// back/forward cache mid-way. Frozen, it never finished that transaction: the SW's store then waited
// for good (reads hit their 2 s timeout on every request, writes never ended, readers waiting for
// write room stalled). So: pages never create the database, and the SW's store is bounded both ways.
// Here fake-indexeddb stands in for Chromium; the frozen page is a version change kept open on purpose.
// Timers are fired by hand (no timed assertions).

import 'fake-indexeddb/auto'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createStoredIndexLister } from '../loader/agent/stored-index-lister.ts'
import { createIdbPieceStore } from '../sw/piece-store-idb.ts'
import { withStoreTimeouts } from '../sw/piece-store-timeout.ts'
import { makeBytes, manualTimers } from './sw-fixtures.ts'

let dbCounter = 0
const freshDbName = () => `swarmcdn-blocked-test-${process.pid}-${dbCounter++}`
const HASH = 'a'.repeat(40)
const READ_MS = 2000
const WRITE_MS = 10_000

const exists = async (name: string) => (await indexedDB.databases()).some((info) => info.name === name)

/** Lets pending IndexedDB callbacks and microtasks run until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let round = 0; round < 5000 && !condition(); round++) await new Promise((resolve) => setImmediate(resolve))
  assert.ok(condition(), `never happened: ${what}`)
}

/** Settled state of a promise without waiting for it. */
function track<T>(promise: Promise<T>): { done: boolean; value?: T } {
  const state: { done: boolean; value?: T } = { done: false }
  void promise.then((value) => Object.assign(state, { done: true, value }))
  return state
}

test('a page\'s store and stored-index lister never create the shared database; they read what the SW stored once it has', async () => {
  const dbName = freshDbName()
  const page = createIdbPieceStore({ budgetBytes: Number.POSITIVE_INFINITY, dbName, existingOnly: true, requestPersistence: async () => false })
  const list = createStoredIndexLister(page, dbName)
  assert.equal(await page.get(HASH, 0), undefined)
  assert.equal(await page.has(HASH, 0), false)
  assert.deepEqual(await list(HASH, 4), [])
  assert.equal(await exists(dbName), false, 'the page created the database (a version change a frozen page can hold open)')

  const sw = createIdbPieceStore({ budgetBytes: 1 << 20, dbName, requestPersistence: async () => true })
  assert.equal(await sw.put(HASH, 2, makeBytes(100, 3)), true)
  assert.equal(await exists(dbName), true)
  // The page's failed opens are not remembered: it finds the database now.
  assert.deepEqual(await page.get(HASH, 2), makeBytes(100, 3))
  assert.equal(await page.has(HASH, 2), true)
  assert.deepEqual(await list(HASH, 4), [2])
})

test('a version change another context never finishes (a page frozen mid-upgrade) cannot hang the SW\'s store: reads miss, writes are dropped, then it is skipped until it answers', async () => {
  const dbName = freshDbName()
  // The frozen page: creates the database and keeps its version change open until released.
  let frozen = true
  const opening = indexedDB.open(dbName, 1)
  opening.onupgradeneeded = () => {
    const database = opening.result
    database.createObjectStore('pieces')
    const lru = database.createObjectStore('lru', { keyPath: 'key' })
    lru.createIndex('by-last-used', 'lastUsed')
    lru.createIndex('by-info-hash', 'infoHash')
    database.createObjectStore('meta')
    const tx = opening.transaction!
    const spin = () => {
      if (frozen) tx.objectStore('meta').get('x').onsuccess = spin
    }
    spin()
  }
  const pageOpened = new Promise<IDBDatabase>((resolve) => (opening.onsuccess = () => resolve(opening.result)))

  const timers = manualTimers()
  let stuckEvents: boolean[] = []
  // No wait for more pieces: its timer is a real one, and this test fires timers by hand.
  const store = withStoreTimeouts(createIdbPieceStore({ budgetBytes: 1 << 20, dbName, requestPersistence: async () => true, gatherMs: 0 }), {
    config: { storeReadTimeoutMs: READ_MS, storeWriteTimeoutMs: WRITE_MS },
    setTimer: timers.setTimer,
    onStuck: (stuck) => stuckEvents.push(stuck),
  })
  const read = track(store.get(HASH, 0))
  const write = track(store.put(HASH, 0, makeBytes(100, 1)))
  await until(() => timers.armed(READ_MS) === 1 && timers.armed(WRITE_MS) === 1, 'both calls wait on the blocked database')
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(read.done || write.done, false, 'the database is blocked')

  timers.fire(READ_MS)
  timers.fire(WRITE_MS)
  await until(() => read.done && write.done, 'the read and the write end at their limits')
  assert.equal(read.value, undefined, 'a read that ran out of time is a miss')
  assert.equal(write.value, false, 'a write that ran out of time is not stored')
  assert.deepEqual(stuckEvents, [true])

  // While the late calls have not settled, the store is skipped: answers at once, nothing queued behind it.
  assert.equal(await store.has(HASH, 0), false)
  assert.equal(await store.put(HASH, 1, makeBytes(100, 2)), false)
  assert.equal(timers.armed(READ_MS) + timers.armed(WRITE_MS), 0, 'no call waits on the blocked database')

  // The page is evicted from the cache: the version change ends, the late calls settle, the store answers again.
  frozen = false
  ;(await pageOpened).close()
  await until(() => stuckEvents.length === 2, 'the store answers again')
  assert.deepEqual(stuckEvents, [true, false])
  stuckEvents = []
  assert.equal(await store.put(HASH, 3, makeBytes(100, 4)), true)
  assert.deepEqual(await store.get(HASH, 3), makeBytes(100, 4))
  assert.deepEqual(stuckEvents, [])
})
