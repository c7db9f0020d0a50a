import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ManifestAsset } from '../core/manifest-format.ts'
import { createAssetFetcher, type DeliveredPiece, type PieceCursor } from '../sw/asset-fetcher.ts'
import { createSchedulerClock } from '../sw/piece-scheduler.ts'
import { createSlotLimiter } from '../sw/http-slots.ts'
import { verifyPiece } from '../sw/piece-verifier.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import type { PieceStore } from '../sw/piece-store.ts'
import { createWebseedSource } from '../sw/webseed-source.ts'
import { ORIGIN, PIECE, createFakeOrigin, createFakePeers, delay, makeAsset, makeBytes, pieceOf, type FakeOrigin } from './sw-fixtures.ts'

const bytes = makeBytes(10 * PIECE + 999, 3)
const asset = makeAsset(bytes, { path: '/media/video.mp4' })
const URL_ORIGIN = `${ORIGIN}/media/video.mp4`
const LAST = 10

function webseed(origin: FakeOrigin) {
  return createWebseedSource({
    fetch: origin.fetch,
    origin: ORIGIN,
    manifest: () => null,
    config: { webseedRetries: 1, webseedRetryBaseMs: 1, webseedResponseTimeoutMs: 0, webseedBodyStallMs: 0 },
    sleep: async () => undefined,
  })
}

function setup(options: { origin?: FakeOrigin; peers?: ReturnType<typeof createFakePeers>; budgetMs?: number; peerBytesPerSec?: number; store?: PieceStore; readAheadBytes?: number; readAheadAloneBytes?: number; random?: () => number } = {}) {
  const origin = options.origin ?? createFakeOrigin({ [URL_ORIGIN]: bytes })
  const store = options.store ?? createMemoryPieceStore({ budgetBytes: 1 << 30 })
  const rejected: Array<{ index: number; source: string }> = []
  const fetcher = createAssetFetcher({
    store,
    config: { readAheadBytes: options.readAheadBytes ?? 64 * PIECE, readAheadAloneBytes: options.readAheadAloneBytes ?? options.readAheadBytes ?? 64 * PIECE },
    scheduler: {
      peers: options.peers ?? null,
      http: webseed(origin),
      httpSlots: createSlotLimiter(4),
      verify: verifyPiece,
      // Fast peers unless said otherwise: every piece they hold is asked at once, due after the budget alone.
      config: { peerBudgetMs: options.budgetMs ?? 50, offloadBias: 0, peerAssumedBytesPerSec: options.peerBytesPerSec ?? 1e12, webseedMaxRunBytes: 4 * PIECE, webseedCrowdRunBytes: PIECE },
      clock: createSchedulerClock(),
      random: options.random ?? (() => 0),
      onRejected: (_a, index, source) => rejected.push({ index, source }),
    },
  })
  return { origin, store, fetcher, rejected }
}

async function readAll(cursor: PieceCursor): Promise<DeliveredPiece[]> {
  const pieces: DeliveredPiece[] = []
  for (let piece = await cursor.next(); piece; piece = await cursor.next()) pieces.push(piece)
  await cursor.settled()
  return pieces
}

function assertInOrderAndCorrect(pieces: DeliveredPiece[], a: ManifestAsset, first: number, last: number): void {
  assert.deepEqual(pieces.map((p) => p.index), Array.from({ length: last - first + 1 }, (_, i) => first + i))
  for (const piece of pieces) assert.deepEqual(piece.bytes, pieceOf(bytes, a, piece.index), `piece ${piece.index}`)
}

/** Piece indexes covered by the Range requests made. */
function requestedPieces(origin: FakeOrigin): number[] {
  const out: number[] = []
  for (const call of origin.calls) for (let i = Math.floor(call.start / PIECE); i <= Math.floor(call.end / PIECE); i++) out.push(i)
  return out.sort((a, b) => a - b)
}

test('cold: every piece from http, in order, verified and stored', async () => {
  const { fetcher, origin, store } = setup()
  const pieces = await readAll(fetcher.open(asset, 0, LAST))
  assertInOrderAndCorrect(pieces, asset, 0, LAST)
  assert.ok(pieces.every((p) => p.source === 'http'), 'pieces.every((p) => p.source === \'http\')')
  assert.deepEqual(requestedPieces(origin), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  for (let i = 0; i <= LAST; i++) assert.deepEqual(await store.get(asset.infoHash, i), pieceOf(bytes, asset, i))
})

test('store hits skip the network entirely', async () => {
  const { fetcher, origin, store } = setup()
  for (let i = 0; i <= LAST; i++) await store.put(asset.infoHash, i, pieceOf(bytes, asset, i))
  const pieces = await readAll(fetcher.open(asset, 2, 7))
  assertInOrderAndCorrect(pieces, asset, 2, 7)
  assert.ok(pieces.every((p) => p.source === 'store'), 'pieces.every((p) => p.source === \'store\')')
  assert.equal(origin.calls.length, 0)
})

test('partial store: http fetches exactly the missing pieces', async () => {
  const { fetcher, origin, store } = setup()
  for (const i of [0, 1, 4]) await store.put(asset.infoHash, i, pieceOf(bytes, asset, i))
  const pieces = await readAll(fetcher.open(asset, 0, 5))
  assertInOrderAndCorrect(pieces, asset, 0, 5)
  assert.deepEqual(pieces.map((p) => p.source), ['store', 'store', 'http', 'http', 'store', 'http'])
  assert.deepEqual(requestedPieces(origin), [2, 3, 5])
})

test('a corrupted piece in the store is not served; it is fetched again', async () => {
  const { fetcher, origin, store } = setup()
  const bad = pieceOf(bytes, asset, 3)
  bad[10] ^= 1
  await store.put(asset.infoHash, 3, bad)
  const pieces = await readAll(fetcher.open(asset, 3, 3))
  assertInOrderAndCorrect(pieces, asset, 3, 3)
  assert.equal(pieces[0].source, 'http')
  assert.deepEqual(requestedPieces(origin), [3])
  assert.deepEqual(await store.get(asset.infoHash, 3), pieceOf(bytes, asset, 3))
})

test('concurrent requests for the same asset share one download per piece', async () => {
  const inner = createFakeOrigin({ [URL_ORIGIN]: bytes })
  const slow: FakeOrigin = {
    calls: inner.calls,
    fetch: async (url, init) => {
      await delay(20)
      return inner.fetch(url, init)
    },
  }
  const { fetcher } = setup({ origin: slow })
  const [a, b, c] = await Promise.all([readAll(fetcher.open(asset, 0, 6)), readAll(fetcher.open(asset, 3, LAST)), readAll(fetcher.open(asset, 0, LAST))])
  assertInOrderAndCorrect(a, asset, 0, 6)
  assertInOrderAndCorrect(b, asset, 3, LAST)
  assertInOrderAndCorrect(c, asset, 0, LAST)
  assert.deepEqual(requestedPieces(slow), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) // each piece once
})

test('pieces peers hold go to peers; the rest to http at once; a peer late past the budget is raced by http', async () => {
  const peers = createFakePeers(bytes, { have: [0, 2, 3], delayMs: 5, hang: [3] })
  const { fetcher, origin } = setup({ peers, budgetMs: 60 })
  const started = Date.now()
  const pieces = await readAll(fetcher.open(asset, 0, 5))
  assertInOrderAndCorrect(pieces, asset, 0, 5)
  assert.deepEqual(pieces.map((p) => p.source), ['peers', 'http', 'peers', 'http', 'http', 'http'])
  assert.deepEqual(peers.asked, [0, 2, 3])
  assert.deepEqual(requestedPieces(origin), [1, 3, 4, 5])
  assert.deepEqual(peers.cancelled, [3], 'the late peer request is cancelled once http delivered')
  assert.ok(Date.now() - started >= 55, 'waited the budget for the late piece') // timers may fire a millisecond early
})

test('slow peers and a free HTTP slot: peers pull from the front, HTTP from the far end, each piece fetched once', async () => {
  const peers = createFakePeers(bytes, { have: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], delayMs: 30 })
  // Peers assumed at one piece a second: a pipeline of 4 pieces (the least) within the 1 s budget.
  const { fetcher, origin } = setup({ peers, budgetMs: 1000, peerBytesPerSec: PIECE })
  const pieces = await readAll(fetcher.open(asset, 0, LAST))
  assertInOrderAndCorrect(pieces, asset, 0, LAST)
  assert.equal(pieces[0].source, 'peers')
  assert.equal(pieces[LAST].source, 'http', 'the far end came over HTTP')
  const fromHttp = requestedPieces(origin)
  assert.ok(fromHttp.length > 0 && fromHttp.length < LAST, `both sources worked: http took ${fromHttp}`)
  for (const index of fromHttp) assert.ok(!peers.asked.includes(index) || peers.cancelled.includes(index), `piece ${index} fetched twice`)
})

test('pieces no peer holds never wait: http starts at once even with a long budget', async () => {
  const peers = createFakePeers(bytes, { have: [] })
  const { fetcher, origin } = setup({ peers, budgetMs: 5000 })
  const started = Date.now()
  assertInOrderAndCorrect(await readAll(fetcher.open(asset, 0, 3)), asset, 0, 3)
  assert.ok(Date.now() - started < 1000, 'Date.now() - started < 1000')
  assert.deepEqual(peers.asked, [])
  assert.deepEqual(requestedPieces(origin), [0, 1, 2, 3])
})

test('a page still connecting to its peers holds http back, and pieces that become available go to peers', async () => {
  const peers = createFakePeers(bytes, { have: [], settling: true })
  const { fetcher, origin } = setup({ peers, budgetMs: 300 })
  const cursor = fetcher.open(asset, 0, 3)
  await delay(30)
  peers.add([0, 1, 2, 3]) // the agent connected and reported what its peers hold
  const pieces = await readAll(cursor)
  assertInOrderAndCorrect(pieces, asset, 0, 3)
  assert.ok(pieces.every((p) => p.source === 'peers'), JSON.stringify(pieces.map((p) => p.source)))
  assert.deepEqual(requestedPieces(origin), [])
})

test('in a crowd, http takes small runs: the reader\'s next one, then from a random place; alone, large runs in order', async () => {
  const crowd = setup({ peers: createFakePeers(bytes, { have: [] }), random: () => 0.5 })
  await readAll(crowd.fetcher.open(asset, 0, 8))
  assert.equal(crowd.origin.calls[0].start, 0, 'the piece the reader needs first')
  assert.equal(crowd.origin.calls[1].start, 5 * PIECE, 'then mid-way')
  assert.ok(crowd.origin.calls.every((call) => call.end - call.start < PIECE), 'one piece per run')
  const alone = setup({ peers: createFakePeers(bytes, { have: [], crowd: false }), random: () => 0.5 })
  await readAll(alone.fetcher.open(asset, 0, 7))
  assert.equal(alone.origin.calls[0].start, 0)
  assert.equal(alone.origin.calls.length, 2, 'runs of four pieces')
})

test('a corrupted piece from peers is not stored; the correct bytes come from http; the source is told', async () => {
  const peers = createFakePeers(bytes, { have: [0, 1, 2], corrupt: [1] })
  const { fetcher, origin, store, rejected } = setup({ peers })
  const pieces = await readAll(fetcher.open(asset, 0, 2))
  assertInOrderAndCorrect(pieces, asset, 0, 2)
  assert.deepEqual(pieces.map((p) => p.source), ['peers', 'http', 'peers'])
  assert.deepEqual(requestedPieces(origin), [1])
  assert.deepEqual(await store.get(asset.infoHash, 1), pieceOf(bytes, asset, 1))
  assert.deepEqual(rejected, [{ index: 1, source: 'peers' }])
  assert.deepEqual(
    peers.verdicts.sort((a, b) => a.index - b.index).map((v) => [v.index, v.ok]),
    [
      [0, true],
      [1, false],
      [2, true],
    ],
  )
})

test('the bad piece is never stored even for a moment (store sees only good bytes)', async () => {
  const peers = createFakePeers(bytes, { have: [4], corrupt: [4] })
  const base = createMemoryPieceStore({ budgetBytes: 1 << 30 })
  const writes: Array<[number, Uint8Array]> = []
  const store: PieceStore = { ...base, put: (h, i, b) => (writes.push([i, b.slice()]), base.put(h, i, b)) }
  const { fetcher } = setup({ peers, store })
  await readAll(fetcher.open(asset, 4, 4))
  assert.equal(writes.length, 1)
  assert.deepEqual(writes[0], [4, pieceOf(bytes, asset, 4)])
})

test('pieces a peer cannot deliver after all (it left) come from http at once', async () => {
  const peers = createFakePeers(bytes, { have: [0, 1, 2, 3, 4], fail: [2, 3, 4] })
  const { fetcher, origin } = setup({ peers, budgetMs: 5000 })
  const started = Date.now()
  const pieces = await readAll(fetcher.open(asset, 0, 4))
  assertInOrderAndCorrect(pieces, asset, 0, 4)
  assert.deepEqual(pieces.map((p) => p.source), ['peers', 'peers', 'http', 'http', 'http'])
  assert.deepEqual(requestedPieces(origin), [2, 3, 4])
  assert.ok(Date.now() - started < 1000, 'Date.now() - started < 1000')
})

test('a piece no source can deliver correctly rejects with piece-hash-mismatch; earlier pieces are fine', async () => {
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes }, () => ({ kind: 'corrupt', at: 2 * PIECE + 7 }))
  const { fetcher, store } = setup({ origin })
  const cursor = fetcher.open(asset, 0, 3)
  assert.deepEqual((await cursor.next())?.bytes, pieceOf(bytes, asset, 0))
  assert.deepEqual((await cursor.next())?.bytes, pieceOf(bytes, asset, 1))
  await assert.rejects(cursor.next(), (e: { code?: string }) => e.code === 'piece-hash-mismatch')
  await cursor.settled()
  assert.equal(await store.has(asset.infoHash, 2), false)
})

test('a failed piece is not remembered as in flight: the next request tries again', async () => {
  let fail = true
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes }, () => (fail ? { kind: 'status', status: 404 } : undefined))
  const { fetcher } = setup({ origin })
  await assert.rejects(fetcher.open(asset, 5, 5).next(), (e: { code?: string }) => e.code === 'webseed-http-status')
  fail = false
  assertInOrderAndCorrect(await readAll(fetcher.open(asset, 5, 5)), asset, 5, 5)
})

test('read-ahead is bounded: a cancelled reader does not download the whole file', async () => {
  const { fetcher, origin } = setup({ readAheadBytes: 2 * PIECE })
  const cursor = fetcher.open(asset, 0, LAST)
  assert.deepEqual((await cursor.next())?.bytes, pieceOf(bytes, asset, 0))
  cursor.cancel()
  await cursor.settled()
  assert.ok(requestedPieces(origin).length <= 4, `fetched ${requestedPieces(origin)}`)
  assert.equal(await cursor.next(), null)
})

test('a visitor alone reads further ahead (readAheadAloneBytes) than one with peers (readAheadBytes)', async () => {
  const fetched = async (peers: ReturnType<typeof createFakePeers> | undefined) => {
    const { fetcher, origin } = setup({ readAheadBytes: 2 * PIECE, readAheadAloneBytes: 6 * PIECE, peers })
    const cursor = fetcher.open(asset, 0, LAST)
    await cursor.next()
    cursor.cancel()
    await cursor.settled()
    return new Set(requestedPieces(origin)).size
  }
  const alone = await fetched(undefined)
  const withPeers = await fetched(createFakePeers(bytes, { have: [], crowd: true }))
  assert.ok(alone >= 6 && alone <= 8, `alone: fetched ${alone} pieces`)
  assert.ok(withPeers <= 4, `with peers: fetched ${withPeers} pieces`)
})

test('with peers, the next window comes once half of this one has arrived, the reader far behind; never more than readAheadAloneBytes ahead', async () => {
  const planned = async (readerTakes: number) => {
    const { fetcher, origin } = setup({ readAheadBytes: 2 * PIECE, readAheadAloneBytes: 6 * PIECE, peers: createFakePeers(bytes, { have: [], crowd: true }) })
    const cursor = fetcher.open(asset, 0, LAST)
    for (let read = 0; read < readerTakes; read++) await cursor.next()
    // The reader stops; what was asked arrives meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 50))
    cursor.cancel()
    await cursor.settled()
    return Math.max(...requestedPieces(origin))
  }
  const stalledReader = await planned(1)
  assert.ok(stalledReader >= 5, `windows of 2 pieces stopped at piece ${stalledReader} with the reader at piece 1: the arrivals did not plan more`)
  assert.ok(stalledReader <= 6, `piece ${stalledReader} fetched with the reader at piece 1: more than readAheadAloneBytes (6 pieces) ahead`)
})

test('plannedSources reports store and http for a mixed plan', async () => {
  const { fetcher, store } = setup()
  await store.put(asset.infoHash, 0, pieceOf(bytes, asset, 0))
  const cursor = fetcher.open(asset, 0, 3)
  await cursor.next()
  assert.deepEqual(cursor.plannedSources(), ['store', 'http'])
  await readAll(cursor)
})
