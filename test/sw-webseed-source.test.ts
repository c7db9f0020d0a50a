import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ManifestAsset } from '../core/manifest-format.ts'
import { createWebseedSource, webseedUrls, type WebseedConfig, type WebseedSource } from '../sw/webseed-source.ts'
import type { PieceDelivery } from '../sw/piece-source.ts'
import { ORIGIN, PIECE, createFakeOrigin, makeAsset, makeBytes, pieceOf, type FakeOrigin } from './sw-fixtures.ts'

const bytes = makeBytes(10 * PIECE + 777, 7)
const asset = makeAsset(bytes, { path: '/media/video.mp4' })
const URL_ORIGIN = `${ORIGIN}/media/video.mp4`
const URL_MIRROR = 'https://mirror.example/site/media/video.mp4'

const config: WebseedConfig = { webseedRetries: 2, webseedRetryBaseMs: 100, webseedResponseTimeoutMs: 0, webseedBodyStallMs: 0 }

function source(origin: FakeOrigin, overrides: Partial<WebseedConfig> = {}, sleeps: number[] = [], mirrors: string[] = []): WebseedSource {
  return createWebseedSource({
    fetch: origin.fetch,
    origin: ORIGIN,
    manifest: () => ({ scope: '/', mirrors }),
    config: { ...config, ...overrides },
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 1,
  })
}

/** Stretches of adjacent indexes, as [first, last]. */
function runsOf(indexes: number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = []
  for (const index of [...indexes].sort((a, b) => a - b)) {
    const run = runs[runs.length - 1]
    if (run && index === run[1] + 1) run[1] = index
    else runs.push([index, index])
  }
  return runs
}

/** One run per stretch of adjacent indexes, all at once, into `got`; throws the first failure once every run has ended. */
async function collect(src: WebseedSource, a: ManifestAsset, indexes: number[], got = new Map<number, Uint8Array>(), emitted: PieceDelivery[] = []): Promise<Map<number, Uint8Array>> {
  const emit = (piece: PieceDelivery) => {
    assert.ok(!got.has(piece.index), `piece ${piece.index} emitted twice`)
    got.set(piece.index, piece.bytes)
    emitted.push(piece)
  }
  const results = await Promise.allSettled(runsOf(indexes).map(([first, last]) => src.fetchRun(a, first, last, emit, new AbortController().signal)))
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failed) throw failed.reason
  return got
}

function assertPieces(got: Map<number, Uint8Array>, indexes: number[]): void {
  assert.deepEqual([...got.keys()].sort((a, b) => a - b), indexes)
  for (const index of indexes) assert.deepEqual(got.get(index), pieceOf(bytes, asset, index), `piece ${index} bytes`)
}

test('webseedUrls: origin first, then mirrors relative to the scope', () => {
  const a = { ...asset, path: '/blog/img/a%20b.jpg' }
  assert.deepEqual(webseedUrls(a, ORIGIN, { scope: '/blog/', mirrors: ['https://m.example/site', 'https://n.example/'] }), [
    `${ORIGIN}/blog/img/a%20b.jpg`,
    'https://m.example/site/img/a%20b.jpg',
    'https://n.example/img/a%20b.jpg',
  ])
})

test('one Range request per run, exact byte ranges, real bytes back', async () => {
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes })
  const got = await collect(source(origin), asset, [1, 2, 3, 7, 10])
  assertPieces(got, [1, 2, 3, 7, 10])
  const ranges = origin.calls.map((c) => c.range).sort()
  assert.deepEqual(ranges, [`bytes=${PIECE}-${4 * PIECE - 1}`, `bytes=${10 * PIECE}-${10 * PIECE + 776}`, `bytes=${7 * PIECE}-${8 * PIECE - 1}`].sort())
})

test('Range requests go past the browser HTTP cache (no-store), so the browser never asks the origin for a range again itself', async () => {
  // Measured in Chromium (bench:net, 20 Mbit/s origin): with the default cache mode, concurrent Range
  // requests for one file were sent to the origin twice (the first copy dropped), +35% origin bytes.
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes }, (_call, n) => (n === 1 ? { kind: 'cut', afterBytes: PIECE + 10 } : undefined))
  assertPieces(await collect(source(origin), asset, [0, 1, 2, 3, 8]), [0, 1, 2, 3, 8])
  assert.ok(origin.calls.length >= 3, 'the retry is counted too')
  assert.deepEqual(origin.calls.map((call) => call.cache), origin.calls.map(() => 'no-store'))
})

test('with readHttpCache, a file the HTTP cache holds (a page loaded it before the SW) costs no origin request; a miss goes past the cache', async () => {
  const other = makeBytes(3 * PIECE, 9)
  const otherAsset = makeAsset(other, { path: '/media/other.mp4' })
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes, [`${ORIGIN}/media/other.mp4`]: other })
  const lookups: string[] = []
  const fetch = async (url: string, init: RequestInit = {}) => {
    if (init.cache === 'only-if-cached') {
      lookups.push(`${url} ${new Headers(init.headers).get('range')} ${init.mode}`)
      if (url !== URL_ORIGIN) throw new TypeError('Failed to fetch (not in the HTTP cache)')
      return new Response(bytes.slice(), { status: 200, headers: { 'Content-Length': String(bytes.length) } })
    }
    return origin.fetch(url, init)
  }
  const src = createWebseedSource({ fetch, origin: ORIGIN, manifest: () => null, config, sleep: async () => undefined, readHttpCache: true })
  assertPieces(await collect(src, asset, [1, 2, 8]), [1, 2, 8])
  assert.equal(origin.calls.length, 0, 'all from the HTTP cache')
  const fromNetwork: PieceDelivery[] = []
  const got = await collect(src, otherAsset, [0, 1, 2], new Map(), fromNetwork)
  assert.deepEqual(got.get(2), pieceOf(other, otherAsset, 2))
  assert.deepEqual(fromNetwork.map((piece) => piece.cached === true), [false, false, false], 'pieces from the network are not marked as cached')
  const fromCache: PieceDelivery[] = []
  await collect(src, asset, [3], new Map(), fromCache)
  assert.equal(fromCache[0]?.cached, true, 'a piece from the HTTP cache is marked (it says nothing of the origin\'s rate)')
  assert.deepEqual(origin.calls.map((call) => [call.range, call.cache]), [[`bytes=0-${other.length - 1}`, 'no-store']])
  assert.ok(lookups.every((lookup) => lookup.endsWith(' same-origin')), 'same-origin lookups')
  assert.ok(lookups.some((lookup) => lookup.endsWith('null same-origin')), 'the whole file is looked up too')
  // A file the cache did not hold is not looked up there again.
  const missesBefore = lookups.filter((lookup) => lookup.startsWith(`${ORIGIN}/media/other.mp4`)).length
  const again = await collect(src, otherAsset, [1])
  assert.deepEqual(again.get(1), pieceOf(other, otherAsset, 1))
  assert.equal(lookups.filter((lookup) => lookup.startsWith(`${ORIGIN}/media/other.mp4`)).length, missesBefore, 'no second lookup of a file the cache lacked')
  assert.equal(origin.calls.length, 2, 'the second run went to the origin')
})

test('network error and 503 are retried with exponential backoff', async () => {
  const sleeps: number[] = []
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes }, (_call, n) => (n === 1 ? { kind: 'network-error' } : n === 2 ? { kind: 'status', status: 503 } : undefined))
  const got = await collect(source(origin, {}, sleeps), asset, [4, 5])
  assertPieces(got, [4, 5])
  assert.equal(origin.calls.length, 3)
  assert.deepEqual(sleeps, [100, 200])
  assert.ok(origin.calls.every((c) => c.range === `bytes=${4 * PIECE}-${6 * PIECE - 1}`), 'origin.calls.every((c) => c.range === `bytes=${4 * PIECE}-${6 * PIECE - 1}`)')
})

test('a body cut mid-way: delivered pieces are kept, the retry asks only for the rest', async () => {
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes }, (_call, n) => (n === 1 ? { kind: 'cut', afterBytes: PIECE + 100 } : undefined))
  const got = await collect(source(origin), asset, [0, 1, 2, 3])
  assertPieces(got, [0, 1, 2, 3])
  assert.deepEqual(
    origin.calls.map((c) => c.range),
    [`bytes=0-${4 * PIECE - 1}`, `bytes=${PIECE}-${4 * PIECE - 1}`],
  )
})

test('retries exhausted on the origin → the mirror serves; 404 goes to the mirror without retries', async () => {
  const sleeps: number[] = []
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes, [URL_MIRROR]: bytes }, (call) => (call.url === URL_ORIGIN ? { kind: 'status', status: 500 } : undefined))
  const got = await collect(source(origin, {}, sleeps, ['https://mirror.example/site/']), asset, [2])
  assertPieces(got, [2])
  assert.deepEqual(origin.calls.map((c) => c.url), [URL_ORIGIN, URL_ORIGIN, URL_ORIGIN, URL_MIRROR])
  assert.deepEqual(sleeps, [100, 200])

  const notFound = createFakeOrigin({ [URL_MIRROR]: bytes })
  const got2 = await collect(source(notFound, {}, [], ['https://mirror.example/site/']), asset, [2])
  assertPieces(got2, [2])
  assert.deepEqual(notFound.calls.map((c) => c.url), [URL_ORIGIN, URL_MIRROR])
})

test('all webseeds failing → the run rejects with webseed-http-status; what other runs delivered is kept', async () => {
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes }, (call) => (call.start >= 5 * PIECE ? { kind: 'status', status: 502 } : undefined))
  const got = new Map<number, Uint8Array>()
  await assert.rejects(collect(source(origin), asset, [0, 5], got), (error: { code?: string }) => error.code === 'webseed-http-status')
  assertPieces(got, [0])
})

test('a 200 whole-file answer (Range ignored) is sliced to the pieces asked', async () => {
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes }, () => ({ kind: 'ignore-range' }))
  const got = await collect(source(origin), asset, [3, 4, 10])
  assertPieces(got, [3, 4, 10])
})

test('a 200 whose length differs, or a wrong Content-Range, is refused', async () => {
  const wrongLength = createFakeOrigin({ [URL_ORIGIN]: bytes.subarray(0, 5 * PIECE) }, () => ({ kind: 'ignore-range' }))
  await assert.rejects(collect(source(wrongLength), asset, [0]), (e: { code?: string }) => e.code === 'webseed-bad-response')
  const wrongRange = createFakeOrigin({ [URL_ORIGIN]: bytes }, () => ({ kind: 'wrong-content-range' }))
  await assert.rejects(collect(source(wrongRange), asset, [1]), (e: { code?: string }) => e.code === 'webseed-bad-response')
  assert.equal(wrongRange.calls.length, 1) // not retried: the same server would answer the same
})

test('corrupted bytes are passed through unverified: verification is the fetcher’s job', async () => {
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes }, () => ({ kind: 'corrupt', at: PIECE + 5 }))
  const got = await collect(source(origin), asset, [1])
  assert.notDeepEqual(got.get(1), pieceOf(bytes, asset, 1))
})

test('aborting stops the run: it rejects, is not retried, and emits nothing more', async () => {
  const origin = createFakeOrigin({ [URL_ORIGIN]: bytes })
  const controller = new AbortController()
  const seen: PieceDelivery[] = []
  const run = source(origin).fetchRun(asset, 0, 9, (piece) => {
    seen.push(piece)
    controller.abort()
  }, controller.signal)
  await assert.rejects(run)
  assert.equal(seen.length, 1, 'no piece after the abort')
  assert.equal(origin.calls.length, 1, 'not retried')
})
