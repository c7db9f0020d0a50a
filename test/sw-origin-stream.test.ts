// The cold path (sw/origin-stream.ts): the origin's bytes straight to the page, whole pieces verified
// and stored on the side; the piece path whenever something of the response is at hand.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Manifest, ManifestAsset } from '../core/manifest-format.ts'
import { pieceCount } from '../core/piece-math.ts'
import { createAssetFetcher } from '../sw/asset-fetcher.ts'
import { createAssetStats } from '../sw/asset-stats.ts'
import { createAssetRequestHandler, type HandledRequest } from '../sw/handle-asset-request.ts'
import { createOriginStream, createPieceAssembler } from '../sw/origin-stream.ts'
import { createSchedulerClock } from '../sw/piece-scheduler.ts'
import { createSlotLimiter } from '../sw/http-slots.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { verifyPiece } from '../sw/piece-verifier.ts'
import { createWebseedSource } from '../sw/webseed-source.ts'
import { ORIGIN, PIECE, createFakeOrigin, createFakePeers, makeAsset, makeBytes, makeManifest, pieceOf, type Fault, type FakePeers } from './sw-fixtures.ts'

const bytes = makeBytes(8 * PIECE + 4321, 7)
const asset = makeAsset(bytes, { path: '/media/video.mp4', type: 'video/mp4' })
const URL_ASSET = `${ORIGIN}/media/video.mp4`
const LEN = bytes.length
const PIECES = pieceCount(LEN, PIECE)

function setup(options: { fault?: (n: number) => Fault | undefined; peers?: FakePeers; storeLater?: (asset: ManifestAsset) => Promise<void> } = {}) {
  const origin = createFakeOrigin({ [URL_ASSET]: bytes }, options.fault && ((_call, n) => options.fault!(n)))
  const store = createMemoryPieceStore({ budgetBytes: 1 << 30 })
  const stats = createAssetStats()
  const rejected: number[] = []
  const peers = options.peers ?? null
  const webseed = createWebseedSource({
    fetch: origin.fetch,
    origin: ORIGIN,
    manifest: () => null,
    config: { webseedRetries: 1, webseedRetryBaseMs: 1, webseedResponseTimeoutMs: 200, webseedBodyStallMs: 200 },
    sleep: async () => undefined,
  })
  const fetcher = createAssetFetcher({
    store,
    config: { readAheadBytes: 4 * PIECE, readAheadAloneBytes: 4 * PIECE },
    scheduler: {
      peers,
      http: webseed,
      httpSlots: createSlotLimiter(2),
      verify: verifyPiece,
      config: { peerBudgetMs: 100, offloadBias: 0, peerAssumedBytesPerSec: 1e12, webseedMaxRunBytes: 2 * PIECE, webseedCrowdRunBytes: PIECE },
      clock: createSchedulerClock(),
      random: () => 0,
    },
  })
  const manifest: Manifest = makeManifest({ assets: [asset] })
  const fallbacks: string[] = []
  const handle = createAssetRequestHandler({
    manifest: { current: () => manifest, isLoaded: () => true, load: async () => undefined },
    fetcher,
    originStream: createOriginStream({
      fetch: origin.fetch,
      origin: ORIGIN,
      store,
      verify: verifyPiece,
      peers,
      busy: fetcher.busy,
      resume: (a, first, last) => fetcher.open(a, first, last),
      onRejected: (_asset, index) => rejected.push(index),
      bodyStallMs: 200,
      storeLater: options.storeLater,
    }),
    stats,
    fetch: async () => new Response('from the network', { headers: { 'X-Fallback': '1' } }),
    origin: ORIGIN,
    onFallback: (_request, error) => fallbacks.push(error.code),
  })
  return { handle, origin, store, stats, fallbacks, rejected }
}

const get = (range?: string) => new Request(URL_ASSET, { headers: range ? { Range: range } : {} })

async function read(handled: HandledRequest | null): Promise<{ response: Response; bytes: Uint8Array }> {
  assert.ok(handled, 'request was routed')
  const response = await handled.response
  const out = new Uint8Array(await response.arrayBuffer())
  await handled.done
  return { response, bytes: out }
}

async function storedIndexes(store: ReturnType<typeof createMemoryPieceStore>): Promise<number[]> {
  const held: number[] = []
  for (let index = 0; index < PIECES; index++) if (await store.has(asset.infoHash, index)) held.push(index)
  return held
}

test('cold, alone: one origin request for the exact range; every whole piece is verified and stored', async () => {
  const { handle, origin, store } = setup()
  const { response, bytes: got } = await read(handle(get()))
  assert.equal(response.status, 200)
  assert.deepEqual(got, bytes)
  assert.equal(response.headers.get('x-swarmcdn-sources'), 'http')
  assert.deepEqual(origin.calls.map((call) => call.range), [`bytes=0-${LEN - 1}`])
  assert.deepEqual(await storedIndexes(store), [...Array(PIECES).keys()])
  for (let index = 0; index < PIECES; index++) assert.deepEqual(await store.get(asset.infoHash, index), pieceOf(bytes, asset, index))
})

test('a Range inside pieces: exact bytes; only the pieces it covers whole are stored', async () => {
  const { handle, origin, store } = setup()
  const start = PIECE + 10
  const end = 4 * PIECE + 99
  const { response, bytes: got } = await read(handle(get(`bytes=${start}-${end}`)))
  assert.equal(response.status, 206)
  assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/${LEN}`)
  assert.deepEqual(got, bytes.subarray(start, end + 1))
  assert.deepEqual(origin.calls.map((call) => call.range), [`bytes=${start}-${end}`])
  assert.deepEqual(await storedIndexes(store), [2, 3])
})

test('a second request, with the first piece stored, takes the piece path from the store', async () => {
  const { handle, origin } = setup()
  await read(handle(get()))
  const { response, bytes: got } = await read(handle(get()))
  assert.deepEqual(got, bytes)
  assert.equal(response.headers.get('x-swarmcdn-sources'), 'store')
  assert.equal(origin.calls.length, 1)
})

test('a visitor with peers takes the piece path (peers first), not the origin stream', async () => {
  const peers = createFakePeers(bytes, { have: [0, 1, 2, 3, 4, 5, 6, 7, 8], crowd: true })
  const { handle } = setup({ peers })
  const { response, bytes: got } = await read(handle(get()))
  assert.deepEqual(got, bytes)
  assert.match(response.headers.get('x-swarmcdn-sources') ?? '', /peers/)
  assert.ok(peers.asked.length > 0, 'peers.asked.length > 0')
})

test('a visitor whose agent settled alone streams from the origin', async () => {
  const peers = createFakePeers(bytes, { have: [], crowd: false, settling: false })
  const { handle, origin } = setup({ peers })
  const { bytes: got } = await read(handle(get()))
  assert.deepEqual(got, bytes)
  assert.equal(origin.calls.length, 1)
  assert.equal(peers.asked.length, 0)
})

test('a corrupted origin piece: the page gets what the origin sent (as a plain fetch would), but it is never stored', async () => {
  const at = 3 * PIECE + 7
  const { handle, store, rejected } = setup({ fault: () => ({ kind: 'corrupt', at }) })
  const { bytes: got } = await read(handle(get()))
  const expected = bytes.slice()
  expected[at] ^= 0xff
  assert.deepEqual(got, expected)
  assert.deepEqual(rejected, [3])
  assert.deepEqual(await storedIndexes(store), [...Array(PIECES).keys()].filter((index) => index !== 3))
})

test('an origin answer for other bytes → the plain network fetch, nothing stored', async () => {
  const { handle, store, fallbacks } = setup({ fault: () => ({ kind: 'wrong-content-range' }) })
  const { response } = await read(handle(get('bytes=0-999')))
  assert.equal(response.headers.get('x-fallback'), '1')
  assert.deepEqual(fallbacks, ['webseed-bad-response'])
  assert.deepEqual(await storedIndexes(store), [])
})

test('a body cut mid-way goes on by the piece path from where it stopped: bytes exact', async () => {
  const { handle, origin } = setup({ fault: (n) => (n === 1 ? { kind: 'cut', afterBytes: 2 * PIECE + 5 } : undefined) })
  const { bytes: got } = await read(handle(get()))
  assert.deepEqual(got, bytes)
  assert.equal(origin.calls[1].start, 2 * PIECE, 'the piece path starts at the piece where the body stopped')
})

test('a body cut mid-way with no source left errors the stream: never a short body that looks complete', async () => {
  const { handle } = setup({ fault: (n) => (n === 1 ? { kind: 'cut', afterBytes: 5000 } : { kind: 'status', status: 404 }) })
  const response = await handle(get())!.response
  await assert.rejects(response.arrayBuffer())
})

test('an origin that stalls before its first byte → the plain network fetch', async () => {
  const { handle, fallbacks } = setup({ fault: () => ({ kind: 'stall', afterBytes: 0 }) })
  const { response } = await read(handle(get()))
  assert.equal(response.headers.get('x-fallback'), '1')
  assert.deepEqual(fallbacks, ['source-timeout'])
})

test('a body that stalls mid-way, with the origin stalling every request before a whole piece, errors instead of hanging', async () => {
  const { handle, stats } = setup({ fault: () => ({ kind: 'stall', afterBytes: 1000 }) })
  const handled = handle(get())!
  const response = await handled.response
  await assert.rejects(response.arrayBuffer())
  await handled.done
  assert.equal(stats.snapshot().recent.at(-1)?.outcome, 'error')
})

test('a cancel by the page (a media element seeking) stops the origin download', async () => {
  const { handle, origin, stats } = setup()
  const handled = handle(get())!
  const response = await handled.response
  const reader = response.body!.getReader()
  await reader.read()
  await reader.cancel()
  await handled.done
  assert.equal(origin.calls.length, 1)
  assert.equal(stats.snapshot().recent.at(-1)?.outcome, 'cancelled')
})

test('piece assembler: any chunking gives the same whole pieces, and drops partial ones', () => {
  for (const start of [0, 5, PIECE, PIECE + 1]) {
    for (const chunk of [1, 999, PIECE, 3 * PIECE + 1]) {
      const got = new Map<number, Uint8Array>()
      const assembler = createPieceAssembler(asset, start, (index, piece) => got.set(index, piece))
      for (let offset = start; offset < LEN; offset += chunk) assembler.push(bytes.subarray(offset, Math.min(LEN, offset + chunk)))
      const first = Math.ceil(start / PIECE)
      assert.deepEqual([...got.keys()], [...Array(PIECES - first).keys()].map((i) => i + first), `start ${start} chunk ${chunk}`)
      for (const [index, piece] of got) assert.deepEqual(piece, pieceOf(bytes, asset, index))
    }
  }
})

test('a whole-file request, with storeLater: the origin\'s own response goes to the page untouched, and the asset is stored later', async () => {
  const later: ManifestAsset[] = []
  let stored!: () => void
  const { handle, origin, store } = setup({ storeLater: (a) => (later.push(a), new Promise<void>((resolve) => (stored = resolve))) })
  const handled = handle(get())
  assert.ok(handled, 'handled')
  const response = await handled.response
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('x-swarmcdn-sources'), null, 'the origin\'s own head, as a plain fetch gets it')
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes)
  assert.deepEqual(origin.calls.map((call) => call.range), [null], 'asked as the page asked: the whole file, no Range')
  assert.deepEqual(later.map((a) => a.infoHash), [asset.infoHash])
  assert.deepEqual(await storedIndexes(store), [], 'nothing stored by the response itself')
  let done = false
  void handled.done.then(() => (done = true))
  await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal(done, false, 'the event stays alive until the asset is stored')
  stored()
  await handled.done
})

test('with storeLater, a Range request still streams through the worker (a seeking page cancels; the HTTP cache may not hold it)', async () => {
  const later: ManifestAsset[] = []
  const { handle, store } = setup({ storeLater: async (a) => void later.push(a) })
  const { response, bytes: got } = await read(handle(get(`bytes=0-${LEN - 1}`)))
  assert.equal(response.status, 206)
  assert.equal(response.headers.get('x-swarmcdn-sources'), 'http')
  assert.deepEqual(got, bytes)
  assert.deepEqual(later, [])
  assert.deepEqual(await storedIndexes(store), [...Array(PIECES).keys()])
})

test('with storeLater, an origin that says no-store (the HTTP cache will not hold it) streams through the worker and is stored as it goes', async () => {
  const later: ManifestAsset[] = []
  const { handle, store } = setup({ storeLater: async (a) => void later.push(a), fault: () => ({ kind: 'no-store' }) })
  const { response, bytes: got } = await read(handle(get()))
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('x-swarmcdn-sources'), 'http')
  assert.deepEqual(got, bytes)
  assert.deepEqual(later, [])
  assert.deepEqual(await storedIndexes(store), [...Array(PIECES).keys()])
})

test('with storeLater, an asset the HTTP cache did not give back last time streams through the worker and is stored as it goes', async () => {
  const later: ManifestAsset[] = []
  const storeLater = Object.assign(async (a: ManifestAsset) => void later.push(a), { missed: (a: ManifestAsset) => a.infoHash === asset.infoHash })
  const { handle, store } = setup({ storeLater })
  const { response, bytes: got } = await read(handle(get()))
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('x-swarmcdn-sources'), 'http')
  assert.deepEqual(got, bytes)
  assert.deepEqual(later, [], 'not left to the HTTP cache again')
  assert.deepEqual(await storedIndexes(store), [...Array(PIECES).keys()])
})
