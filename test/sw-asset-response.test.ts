// The whole pipeline, request to response bytes: handle-asset-request + asset-response + fetcher.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Manifest } from '../core/manifest-format.ts'
import { createAssetFetcher } from '../sw/asset-fetcher.ts'
import { createSchedulerClock } from '../sw/piece-scheduler.ts'
import { createSlotLimiter } from '../sw/http-slots.ts'
import { verifyPiece } from '../sw/piece-verifier.ts'
import { createAssetStats } from '../sw/asset-stats.ts'
import { createAssetRequestHandler, type HandledRequest } from '../sw/handle-asset-request.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { createWebseedSource } from '../sw/webseed-source.ts'
import { ORIGIN, PIECE, concat, createFakeOrigin, createFakePeers, makeAsset, makeBytes, makeManifest, pieceOf, type FakeOrigin } from './sw-fixtures.ts'

const bytes = makeBytes(8 * PIECE + 4321, 5)
const asset = makeAsset(bytes, { path: '/media/video.mp4', type: 'video/mp4' })
const URL_ASSET = `${ORIGIN}/media/video.mp4`
const LEN = bytes.length

function setup(options: { origin?: FakeOrigin; peers?: ReturnType<typeof createFakePeers>; loaded?: boolean; hangingLoad?: boolean } = {}) {
  const origin = options.origin ?? createFakeOrigin({ [URL_ASSET]: bytes })
  const store = createMemoryPieceStore({ budgetBytes: 1 << 30 })
  const stats = createAssetStats()
  const webseed = createWebseedSource({
    fetch: origin.fetch,
    origin: ORIGIN,
    manifest: () => null,
    config: { webseedRetries: 1, webseedRetryBaseMs: 1, webseedResponseTimeoutMs: 0, webseedBodyStallMs: 0 },
    sleep: async () => undefined,
  })
  const fetcher = createAssetFetcher({
    store,
    config: { readAheadBytes: 4 * PIECE, readAheadAloneBytes: 4 * PIECE },
    scheduler: {
      peers: options.peers ?? null,
      http: webseed,
      httpSlots: createSlotLimiter(2),
      verify: verifyPiece,
      config: { peerBudgetMs: 100, offloadBias: 0, peerAssumedBytesPerSec: 1e12, webseedMaxRunBytes: 2 * PIECE, webseedCrowdRunBytes: PIECE },
      clock: createSchedulerClock(),
      random: () => 0,
    },
  })
  const manifest: Manifest = makeManifest({ assets: [asset] })
  let loaded = options.loaded ?? true
  const fallbacks: string[] = []
  const handle = createAssetRequestHandler({
    manifest: {
      current: () => (loaded ? manifest : null),
      isLoaded: () => loaded,
      load: options.hangingLoad ? () => new Promise<void>(() => undefined) : async () => void (loaded = true),
    },
    manifestWaitMs: 50,
    fetcher,
    stats,
    fetch: async () => new Response('from the network', { headers: { 'X-Fallback': '1' } }),
    origin: ORIGIN,
    onFallback: (_request, error) => fallbacks.push(error.code),
  })
  return { handle, origin, store, stats, fallbacks }
}

function get(range?: string, init: RequestInit = {}): Request {
  return new Request(URL_ASSET, { ...init, headers: range ? { Range: range } : {} })
}

async function body(handled: HandledRequest | null): Promise<{ response: Response; bytes: Uint8Array }> {
  assert.ok(handled, 'request was routed')
  const response = await handled.response
  const out = new Uint8Array(await response.arrayBuffer())
  await handled.done
  return { response, bytes: out }
}

const cases: Array<{ range?: string; start: number; end: number }> = [
  { range: undefined, start: 0, end: LEN - 1 },
  { range: 'bytes=0-0', start: 0, end: 0 },
  { range: 'bytes=0-1023', start: 0, end: 1023 },
  { range: `bytes=${PIECE - 10}-${3 * PIECE + 10}`, start: PIECE - 10, end: 3 * PIECE + 10 },
  { range: `bytes=${2 * PIECE}-${3 * PIECE - 1}`, start: 2 * PIECE, end: 3 * PIECE - 1 },
  { range: 'bytes=-5000', start: LEN - 5000, end: LEN - 1 },
  { range: `bytes=${5 * PIECE + 1}-`, start: 5 * PIECE + 1, end: LEN - 1 },
  { range: `bytes=${LEN - 1}-${LEN + 100}`, start: LEN - 1, end: LEN - 1 },
  { range: 'bytes=0-1,5-9', start: 0, end: LEN - 1 }, // multi-range → 200 whole
]

for (const { range, start, end } of cases) {
  test(`GET ${range ?? '(no Range)'} → exactly bytes ${start}-${end}`, async () => {
    const { handle } = setup()
    const { response, bytes: got } = await body(handle(get(range)))
    const partial = range !== undefined && !range.includes(',')
    assert.equal(response.status, partial ? 206 : 200)
    assert.deepEqual(got, bytes.subarray(start, end + 1))
    assert.equal(response.headers.get('content-length'), String(end - start + 1))
    assert.equal(response.headers.get('content-range'), partial ? `bytes ${start}-${end}/${LEN}` : null)
    assert.equal(response.headers.get('content-type'), 'video/mp4')
    assert.equal(response.headers.get('accept-ranges'), 'bytes')
    assert.equal(response.headers.get('etag'), `"${asset.infoHash}"`)
    assert.equal(response.headers.get('x-swarmcdn-sources'), 'http')
  })
}

test('second request is served from the store, with no network', async () => {
  const { handle, origin, stats } = setup()
  await body(handle(get()))
  const calls = origin.calls.length
  const { response, bytes: got } = await body(handle(get('bytes=100-70000')))
  assert.deepEqual(got, bytes.subarray(100, 70001))
  assert.equal(response.headers.get('x-swarmcdn-sources'), 'store')
  assert.equal(origin.calls.length, calls)
  const snapshot = stats.snapshot()
  assert.equal(snapshot.assets[asset.path].requests, 2)
  assert.deepEqual(snapshot.assets[asset.path].bytes, { store: 69901, peers: 0, http: LEN })
  assert.deepEqual(snapshot.totals.bytes, { store: 69901, peers: 0, http: LEN })
  assert.deepEqual(snapshot.recent.map((r) => r.outcome), ['complete', 'complete'])
})

test('mixed store + http: header and exact per-request tally', async () => {
  const { handle, store, stats } = setup()
  await store.put(asset.infoHash, 0, pieceOf(bytes, asset, 0))
  const { response, bytes: got } = await body(handle(get(`bytes=0-${2 * PIECE - 1}`)))
  assert.deepEqual(got, bytes.subarray(0, 2 * PIECE))
  assert.equal(response.headers.get('x-swarmcdn-sources'), 'store,http')
  assert.deepEqual(stats.snapshot().recent[0].bytes, { store: PIECE, peers: 0, http: PIECE })
})

test('peers + http: pieces peers hold from peers, the rest from the webseed, bytes exact', async () => {
  const dying = createFakePeers(bytes, { have: [0, 1, 2], delayMs: 2 })
  const { handle, stats } = setup({ peers: dying })
  const { response, bytes: got } = await body(handle(get()))
  assert.equal(response.status, 200)
  assert.deepEqual(got, bytes)
  const tally = stats.snapshot().recent[0].bytes
  assert.equal(tally.peers, 3 * PIECE)
  assert.equal(tally.http, LEN - 3 * PIECE)
  // Headers leave with the first piece: by then HTTP is already fetching what no peer holds.
  assert.equal(response.headers.get('x-swarmcdn-sources'), 'peers,http')
})

test('the first byte arrives long before the whole file', async () => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const inner = createFakeOrigin({ [URL_ASSET]: bytes })
  const origin: FakeOrigin = {
    calls: inner.calls,
    fetch: async (url, init) => {
      const pending = inner.fetch(url, init)
      const call = inner.calls.at(-1)!
      if (call.start > 0) await gate // everything after the first run waits
      return pending
    },
  }
  const { handle } = setup({ origin })
  const handled = handle(get())!
  const response = await handled.response
  const reader = response.body!.getReader()
  const first = await reader.read()
  assert.deepEqual(first.value, bytes.subarray(0, PIECE))
  release()
  const rest: Uint8Array[] = [first.value!]
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value)
  assert.deepEqual(concat(rest), bytes)
  await handled.done
})

test('failure mid-stream with no source left → the stream errors; never a short body that looks complete', async () => {
  const origin = createFakeOrigin({ [URL_ASSET]: bytes }, (call) => (call.start >= 4 * PIECE ? { kind: 'status', status: 404 } : undefined))
  const { handle, stats } = setup({ origin })
  const handled = handle(get())!
  const response = await handled.response
  assert.equal(response.status, 200)
  await assert.rejects(response.arrayBuffer())
  await handled.done
  assert.equal(stats.snapshot().recent[0].outcome, 'error')
})

test('a corrupted webseed piece mid-stream errors the stream instead of serving it', async () => {
  const origin = createFakeOrigin({ [URL_ASSET]: bytes }, () => ({ kind: 'corrupt', at: 6 * PIECE + 3 }))
  const { handle, store } = setup({ origin })
  const handled = handle(get())!
  const response = await handled.response
  const reader = response.body!.getReader()
  const chunks: Uint8Array[] = []
  await assert.rejects(async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value)
  })
  assert.deepEqual(concat(chunks), bytes.subarray(0, 6 * PIECE)) // everything sent was verified and correct
  await handled.done
  assert.equal(await store.has(asset.infoHash, 6), false)
})

test('failure before the first byte → plain network fetch (fail-open)', async () => {
  const origin = createFakeOrigin({}, () => ({ kind: 'status', status: 500 }))
  const { handle, fallbacks } = setup({ origin })
  const { response, bytes: got } = await body(handle(get('bytes=0-99')))
  assert.equal(response.headers.get('x-fallback'), '1')
  assert.equal(new TextDecoder().decode(got), 'from the network')
  assert.deepEqual(fallbacks, ['webseed-http-status'])
})

test('HEAD → headers only, no piece fetched', async () => {
  const { handle, origin } = setup()
  const { response, bytes: got } = await body(handle(new Request(URL_ASSET, { method: 'HEAD', headers: { Range: 'bytes=10-19' } })))
  assert.equal(response.status, 206)
  assert.equal(response.headers.get('content-length'), '10')
  assert.equal(response.headers.get('content-range'), `bytes 10-19/${LEN}`)
  assert.equal(got.length, 0)
  assert.equal(origin.calls.length, 0)
})

test('Range past the end → 416 with Content-Range bytes */len', async () => {
  const { handle } = setup()
  const { response } = await body(handle(get(`bytes=${LEN}-`)))
  assert.equal(response.status, 416)
  assert.equal(response.headers.get('content-range'), `bytes */${LEN}`)
})

test('not a manifest asset → null (no respondWith)', () => {
  const { handle } = setup()
  assert.equal(handle(new Request(`${ORIGIN}/index.html`)), null)
  assert.equal(handle(new Request('https://elsewhere.example/media/video.mp4')), null)
})

test('cold start with a hung manifest: requests go to the network after a bounded wait, never hang', async () => {
  const hung = setup({ loaded: false, hangingLoad: true })
  const started = Date.now()
  const { response } = await body(hung.handle(get('bytes=0-9')))
  assert.equal(response.headers.get('x-fallback'), '1')
  assert.ok(Date.now() - started < 1000, 'waited too long for the manifest')
})

test('page loads (navigations) are never answered by the SW, even for a manifest path', async () => {
  const { handle } = setup()
  const navigation = { method: 'GET', url: URL_ASSET, mode: 'navigate', headers: new Headers() } as unknown as Request
  assert.equal(handle(navigation), null)
})

test('cold start: an asset request waits for the manifest, a non-asset falls through to the network', async () => {
  const cold = setup({ loaded: false })
  const navigation = { method: 'GET', url: `${ORIGIN}/`, mode: 'navigate', headers: new Headers() } as unknown as Request
  assert.equal(cold.handle(navigation), null)
  const { response, bytes: got } = await body(cold.handle(get('bytes=0-9')))
  assert.equal(response.status, 206)
  assert.deepEqual(got, bytes.subarray(0, 10))
  const other = setup({ loaded: false })
  const { response: passed } = await body(other.handle(new Request(`${ORIGIN}/style.css`)))
  assert.equal(passed.headers.get('x-fallback'), '1')
})
