// Issue 11 item 4: every wait in the SW's HTTP and store paths is bounded. Timers are injected and
// fired by hand once the code under test is blocked (no timed assertions).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ManifestAsset } from '../core/manifest-format.ts'
import { createAssetFetcher, type DeliveredPiece } from '../sw/asset-fetcher.ts'
import type { SwError } from '../sw/errors.ts'
import { createSchedulerClock, schedulePieces } from '../sw/piece-scheduler.ts'
import { createSlotLimiter } from '../sw/http-slots.ts'
import type { PieceDelivery } from '../sw/piece-source.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { withStoreTimeouts } from '../sw/piece-store-timeout.ts'
import type { PieceStore } from '../sw/piece-store.ts'
import { verifyPiece } from '../sw/piece-verifier.ts'
import { createWebseedSource, type WebseedConfig, type WebseedSource } from '../sw/webseed-source.ts'
import { withTimeout } from '../sw/with-timeout.ts'
import { ORIGIN, PIECE, createFakeOrigin, makeAsset, makeBytes, manualTimers, pieceOf, type FakeOrigin } from './sw-fixtures.ts'

const bytes = makeBytes(10 * PIECE + 777, 11)
const asset = makeAsset(bytes, { path: '/media/video.mp4' })
const URL_ASSET = `${ORIGIN}/media/video.mp4`
const otherBytes = makeBytes(3 * PIECE + 5, 12)
const other = makeAsset(otherBytes, { path: '/img/other.jpg' })
const URL_OTHER = `${ORIGIN}/img/other.jpg`

// Distinct values, so a pending timer tells which limit it is.
const HEADERS_MS = 1000
const STALL_MS = 2000
const config: WebseedConfig = {
  webseedRetries: 2,
  webseedRetryBaseMs: 100,
  webseedResponseTimeoutMs: HEADERS_MS,
  webseedBodyStallMs: STALL_MS,
}

/** Lets every pending I/O callback and microtask run, until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let round = 0; round < 2000 && !condition(); round++) await new Promise((resolve) => setImmediate(resolve))
  assert.ok(condition(), `never happened: ${what}`)
}

interface Attempt {
  url: string
  range: string | null
  signal: AbortSignal
  /** The reader cancelled the body (set for stalled bodies only). */
  cancelled: boolean
}

/**
 * The fake origin behind a fault per attempt (1-based): `hang` never sends headers (rejects only when
 * its signal aborts); `stall` sends the first `afterBytes` of the body, then nothing, ever.
 */
function faultyOrigin(inner: FakeOrigin, fault: (attempt: Attempt, n: number) => { kind: 'hang' } | { kind: 'stall'; afterBytes: number } | undefined) {
  const attempts: Attempt[] = []
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const attempt: Attempt = { url, range: new Headers(init.headers).get('range'), signal: init.signal!, cancelled: false }
    attempts.push(attempt)
    const f = fault(attempt, attempts.length)
    if (f?.kind === 'hang') {
      return new Promise<Response>((_, reject) => attempt.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true }))
    }
    const response = await inner.fetch(url, init)
    if (f?.kind !== 'stall') return response
    const source = response.body!.getReader()
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= f.afterBytes) return new Promise<void>(() => undefined) // never another byte
        const { done, value } = await source.read()
        if (done) return controller.close()
        const chunk = value.subarray(0, f.afterBytes - sent)
        sent += chunk.length
        controller.enqueue(chunk)
      },
      cancel() {
        attempt.cancelled = true
      },
    })
    return new Response(body, { status: response.status, headers: response.headers })
  }
  return { fetch, attempts }
}

function webseed(fetch: (url: string, init: RequestInit) => Promise<Response>, timers: ReturnType<typeof manualTimers>, sleeps: number[] = [], overrides: Partial<WebseedConfig> = {}) {
  return createWebseedSource({
    fetch,
    origin: ORIGIN,
    manifest: () => ({ scope: '/', mirrors: [] }),
    config: { ...config, ...overrides },
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 1,
    setTimer: timers.setTimer,
  })
}

/** Fetches pieces first..last in one run into `got` as they arrive; resolves (or rejects) when the run ends. */
function consume(source: WebseedSource, first: number, last: number, got: Map<number, Uint8Array>): Promise<void> {
  return source.fetchRun(asset, first, last, (piece: PieceDelivery) => {
    assert.ok(!got.has(piece.index), `piece ${piece.index} emitted twice`)
    got.set(piece.index, piece.bytes)
  }, new AbortController().signal)
}

function assertPieces(got: Map<number, Uint8Array>, a: ManifestAsset, source: Uint8Array, indexes: number[]): void {
  assert.deepEqual([...got.keys()].sort((x, y) => x - y), indexes)
  for (const index of indexes) assert.deepEqual(got.get(index), pieceOf(source, a, index), `piece ${index} bytes`)
}

test('withTimeout: the work when it is in time (timer cancelled), the fallback or the thrown error when it is not', async () => {
  const timers = manualTimers()
  assert.equal(await withTimeout(Promise.resolve('work'), 50, () => 'late', timers.setTimer), 'work')
  assert.equal(timers.armed(50), 0, 'the timer is cancelled once the work settles')

  const never = new Promise<string>(() => undefined)
  const fallback = withTimeout(never, 50, () => 'fallback', timers.setTimer)
  assert.equal(timers.fire(50), 1)
  assert.equal(await fallback, 'fallback')

  const rejecting = withTimeout(never, 50, () => {
    throw new Error('too slow')
  }, timers.setTimer)
  timers.fire(50)
  await assert.rejects(rejecting, /too slow/)

  // A late rejection of the work is not unhandled; no limit means the work itself.
  let fail!: (error: Error) => void
  const late = withTimeout(new Promise<string>((_, reject) => (fail = reject)), 50, () => 'gave up', timers.setTimer)
  timers.fire(50)
  assert.equal(await late, 'gave up')
  fail(new Error('late failure'))
  const work = Promise.resolve(1)
  assert.equal(withTimeout(work, undefined, () => 2), work)
})

test('webseed: no response headers in time → the request is aborted and retried (with backoff), the retry succeeds', async () => {
  const timers = manualTimers()
  const sleeps: number[] = []
  const origin = faultyOrigin(createFakeOrigin({ [URL_ASSET]: bytes }), (_attempt, n) => (n === 1 ? { kind: 'hang' } : undefined))
  const got = new Map<number, Uint8Array>()
  const done = consume(webseed(origin.fetch, timers, sleeps), 2, 3, got)

  await until(() => origin.attempts.length === 1 && timers.armed(HEADERS_MS) === 1, 'the first request waits for headers')
  assert.equal(got.size, 0)
  timers.fire(HEADERS_MS)
  await done

  assertPieces(got, asset, bytes, [2, 3])
  assert.ok(origin.attempts[0].signal.aborted, 'the stalled fetch was aborted')
  assert.deepEqual(origin.attempts.map((a) => a.range), [`bytes=${2 * PIECE}-${4 * PIECE - 1}`, `bytes=${2 * PIECE}-${4 * PIECE - 1}`])
  assert.deepEqual(sleeps, [100], 'the usual backoff applies')
})

test('webseed: a body that stalls mid-run → aborted, reader cancelled, delivered pieces kept, the retry asks only for the rest', async () => {
  const timers = manualTimers()
  const sleeps: number[] = []
  const origin = faultyOrigin(createFakeOrigin({ [URL_ASSET]: bytes }), (_attempt, n) => (n === 1 ? { kind: 'stall', afterBytes: PIECE + 100 } : undefined))
  const got = new Map<number, Uint8Array>()
  const done = consume(webseed(origin.fetch, timers, sleeps), 0, 3, got)

  await until(() => got.has(0) && timers.armed(STALL_MS) === 1, 'piece 0 delivered, the body stalled')
  assert.equal(timers.armed(HEADERS_MS), 0, 'the header timer stopped once the headers came')
  assert.ok(timers.started(STALL_MS) > 2, 'the body timer restarts with every read')
  assert.equal(got.size, 1)
  timers.fire(STALL_MS)
  await done

  assertPieces(got, asset, bytes, [0, 1, 2, 3])
  assert.ok(origin.attempts[0].signal.aborted, 'the stalled request was aborted')
  assert.ok(origin.attempts[0].cancelled, 'the stalled body was cancelled')
  assert.deepEqual(origin.attempts.map((a) => a.range), [`bytes=0-${4 * PIECE - 1}`, `bytes=${PIECE}-${4 * PIECE - 1}`])
  assert.deepEqual(sleeps, [100])
})

test('webseed: a body that stalls on every attempt gives up after the retries with a retriable webseed-timeout', async () => {
  const timers = manualTimers()
  const sleeps: number[] = []
  // Every attempt stalls after 100 bytes: no piece ever completes.
  const origin = faultyOrigin(createFakeOrigin({ [URL_ASSET]: bytes }), () => ({ kind: 'stall', afterBytes: 100 }))
  const got = new Map<number, Uint8Array>()
  const done = consume(webseed(origin.fetch, timers, sleeps, { webseedRetries: 1 }), 5, 5, got)
  await until(() => origin.attempts.length === 1 && timers.armed(STALL_MS) === 1, 'first attempt stalled')
  timers.fire(STALL_MS)
  await until(() => origin.attempts.length === 2 && timers.armed(STALL_MS) === 1, 'second attempt stalled')
  timers.fire(STALL_MS)
  await assert.rejects(done, (error: SwError) => error.code === 'webseed-timeout' && error.retriable)
  assert.equal(got.size, 0)
  assert.equal(origin.attempts.length, 2)
  assert.ok(origin.attempts.every((a) => a.signal.aborted && a.cancelled), 'origin.attempts.every((a) => a.signal.aborted && a.cancelled)')
})

test('scheduler: an asset whose origin never answers frees its HTTP slot at the timeout and starts no more runs; another asset proceeds', async () => {
  const timers = manualTimers()
  const origin = faultyOrigin(createFakeOrigin({ [URL_ASSET]: bytes, [URL_OTHER]: otherBytes }), (attempt) => (attempt.url === URL_ASSET ? { kind: 'hang' } : undefined))
  const http = webseed(origin.fetch, timers, [], { webseedRetries: 0 })
  const deps = {
    peers: null,
    http,
    httpSlots: createSlotLimiter(1),
    verify: verifyPiece,
    // Runs of two pieces: the stuck asset's batch needs three runs.
    config: { peerBudgetMs: 50, offloadBias: 0, peerAssumedBytesPerSec: 1e6, webseedMaxRunBytes: 2 * PIECE, webseedCrowdRunBytes: PIECE },
    clock: createSchedulerClock(),
  }
  const failed = new Map<number, SwError>()
  const delivered = new Map<number, Uint8Array>()
  const stuck = schedulePieces(deps, asset, [0, 1, 2, 3, 4, 5], { deliver: () => assert.fail('nothing arrives'), fail: (index, error) => failed.set(index, error) })
  const waiting = schedulePieces(deps, other, [0, 1, 2, 3], { deliver: (index, piece) => delivered.set(index, piece), fail: (_index, error) => assert.fail(error) })

  await until(() => timers.armed(HEADERS_MS) === 1, 'the first asset waits for headers')
  assert.equal(origin.attempts.length, 1, 'the other asset waits for the only slot')
  assert.equal(delivered.size, 0)
  timers.fire(HEADERS_MS)
  await Promise.all([stuck, waiting])

  assert.deepEqual([...failed.keys()].sort(), [0, 1, 2, 3, 4, 5], 'every piece of the stuck batch fails (the response falls back)')
  assert.ok([...failed.values()].every((error) => error.code === 'webseed-timeout'), '[...failed.values()].every((error) => error.code === \'webseed-timeout\')')
  assert.equal(origin.attempts.filter((a) => a.url === URL_ASSET).length, 1, 'no more runs against an origin that gave up')
  assert.deepEqual([...delivered.keys()].sort(), [0, 1, 2, 3])
  for (const [index, piece] of delivered) assert.deepEqual(piece, pieceOf(otherBytes, other, index))
})

/** A store whose reads never settle (a blocked database); writes work. */
function hangingStore(): PieceStore & { reads: number } {
  const inner = createMemoryPieceStore({ budgetBytes: 1 << 30 })
  const store = {
    reads: 0,
    get: () => (store.reads++, new Promise<Uint8Array | undefined>(() => undefined)),
    getBlob: () => (store.reads++, new Promise<Blob | undefined>(() => undefined)),
    has: () => (store.reads++, new Promise<boolean>(() => undefined)),
    put: inner.put,
    deleteAsset: inner.deleteAsset,
    usageBytes: inner.usageBytes,
  }
  return store
}

test('store read timeout: a read that never resolves is a miss (get, getBlob → undefined; has → false); fast reads pass through', async () => {
  const timers = manualTimers()
  const stuck = withStoreTimeouts(hangingStore(), { config: { storeReadTimeoutMs: 2000, storeWriteTimeoutMs: 10_000 }, setTimer: timers.setTimer })
  const get = stuck.get(asset.infoHash, 0)
  const has = stuck.has(asset.infoHash, 0)
  const blob = stuck.getBlob(asset.infoHash, 0)
  assert.equal(timers.fire(2000), 3)
  assert.equal(await get, undefined)
  assert.equal(await blob, undefined)
  assert.equal(await has, false)

  const memory = createMemoryPieceStore({ budgetBytes: 1 << 30 })
  await memory.put(asset.infoHash, 0, pieceOf(bytes, asset, 0))
  const fast = withStoreTimeouts(memory, { config: { storeReadTimeoutMs: 2000, storeWriteTimeoutMs: 10_000 }, setTimer: timers.setTimer })
  assert.deepEqual(await fast.get(asset.infoHash, 0), pieceOf(bytes, asset, 0))
  assert.equal(await fast.has(asset.infoHash, 0), true)
  assert.equal(timers.armed(2000), 0, 'timers of reads in time are cancelled')

  // A failing read is a miss too: a store problem never fails a response.
  const failing = withStoreTimeouts({ ...memory, get: () => Promise.reject(new Error('disk')), has: () => Promise.reject(new Error('disk')) }, { config: { storeReadTimeoutMs: 2000, storeWriteTimeoutMs: 10_000 }, setTimer: timers.setTimer })
  assert.equal(await failing.get(asset.infoHash, 0), undefined)
  assert.equal(await failing.has(asset.infoHash, 0), false)
})

test('store read timeout: the fetcher serves every piece from HTTP when the store never answers', async () => {
  const timers = manualTimers()
  const inner = hangingStore()
  const store = withStoreTimeouts(inner, { config: { storeReadTimeoutMs: 2000, storeWriteTimeoutMs: 10_000 }, setTimer: timers.setTimer })
  const origin = createFakeOrigin({ [URL_ASSET]: bytes })
  const fetcher = createAssetFetcher({
    store,
    config: { readAheadBytes: 64 * PIECE, readAheadAloneBytes: 64 * PIECE },
    scheduler: {
      peers: null,
      http: webseed(origin.fetch, manualTimers(), [], {}),
      httpSlots: createSlotLimiter(2),
      verify: verifyPiece,
      config: { peerBudgetMs: 50, offloadBias: 0, peerAssumedBytesPerSec: 1e6, webseedMaxRunBytes: 4 * PIECE, webseedCrowdRunBytes: PIECE },
      clock: createSchedulerClock(),
    },
  })
  const cursor = fetcher.open(asset, 0, 10)
  const pieces: DeliveredPiece[] = []
  const reading = (async () => {
    for (let piece = await cursor.next(); piece; piece = await cursor.next()) pieces.push(piece)
    await cursor.settled()
  })()
  await until(() => timers.armed(2000) === 11, 'every store read waits')
  assert.equal(origin.calls.length, 0, 'nothing is fetched while the store lookups are pending')
  timers.fire(2000)
  await reading
  assert.deepEqual(pieces.map((p) => p.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  for (const piece of pieces) {
    assert.equal(piece.source, 'http')
    assert.deepEqual(piece.bytes, pieceOf(bytes, asset, piece.index))
  }
  assert.equal(inner.reads, 11)
})
