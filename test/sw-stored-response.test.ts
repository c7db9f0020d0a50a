// The warm path (sw/stored-response.ts): a range wholly in the store, of passive media, is one Blob of
// the stored pieces; each piece is checked right after, and a bad one sends its asset out of the store.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pieceCount } from '../core/piece-math.ts'
import type { ManifestAsset } from '../core/manifest-format.ts'
import { createAssetStats } from '../sw/asset-stats.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import type { PieceStore } from '../sw/piece-store.ts'
import { verifyPiece } from '../sw/piece-verifier.ts'
import { createStoredResponder, isPassiveMedia } from '../sw/stored-response.ts'
import type { AssetCopies } from '../sw/asset-copies.ts'
import { PIECE, makeAsset, makeBytes, pieceOf } from './sw-fixtures.ts'

const bytes = makeBytes(6 * PIECE + 1234, 3)
const video = makeAsset(bytes, { path: '/media/film.webm', type: 'video/webm' })

/** A clock and a timer moved by hand: fire() lets the quiet time pass, then runs the checks. */
function manualTimer() {
  let pending: { callback: () => void; ms: number } | null = null
  let clock = 0
  return {
    now: () => clock,
    setTimer: (callback: () => void, ms: number) => ((pending = { callback, ms }), 1),
    clearTimer: () => void (pending = null),
    armed: () => pending !== null,
    fire() {
      const due = pending
      pending = null
      if (!due) return
      clock += due.ms
      due.callback()
    },
  }
}

async function storeWith(asset: ManifestAsset, source: Uint8Array, indexes?: number[]): Promise<PieceStore> {
  const store = createMemoryPieceStore({ budgetBytes: 1 << 30 })
  for (const index of indexes ?? Array.from({ length: pieceCount(asset.length, asset.pieceLength) }, (_, i) => i)) {
    await store.put(asset.infoHash, index, pieceOf(source, asset, index))
  }
  return store
}

function setup(store: PieceStore, copies?: AssetCopies) {
  const timer = manualTimer()
  const corrupt: number[] = []
  const responder = createStoredResponder({ store, copies, verify: verifyPiece, onCorrupt: (_asset, index) => corrupt.push(index), setTimer: timer.setTimer, clearTimer: timer.clearTimer, now: timer.now })
  const stats = createAssetStats()
  const respond = (asset: ManifestAsset, start: number, end: number, partial = start !== 0 || end !== asset.length - 1) =>
    responder.respond({ asset, start, end, partial, tally: stats.beginRequest(asset, { status: partial ? 206 : 200, start, end }) })
  return { responder, respond, stats, timer, corrupt }
}

/** The store, with every read of a piece's bytes (a check) counted; `onRead` runs before the nth read returns. */
function countingChecks(store: PieceStore, onRead?: (reads: number) => Promise<unknown> | void) {
  const counter = { reads: 0 }
  const wrapped: PieceStore = {
    ...store,
    getBlob: async (infoHash, index) => {
      const blob = await store.getBlob(infoHash, index)
      if (!blob) return blob
      // Count reads of the bytes (the check), not handles.
      const arrayBuffer = blob.arrayBuffer.bind(blob)
      return Object.assign(blob, {
        arrayBuffer: async () => {
          counter.reads++
          await onRead?.(counter.reads)
          return arrayBuffer()
        },
      })
    },
  }
  return { store: wrapped, counter }
}

const body = async (response: Response) => new Uint8Array(await response.arrayBuffer())

/** Cache Storage's part in memory (the real one is exercised in e2e/service-worker.test.ts). */
function memoryCopies() {
  const held = new Map<string, { blob: Blob; head: { status: number; statusText: string; headers: Headers } }>()
  const copies: AssetCopies = {
    match: async (asset) => {
      const copy = held.get(asset.infoHash)
      return copy && new Response(copy.blob, { status: copy.head.status, statusText: copy.head.statusText, headers: copy.head.headers })
    },
    put: async (asset, blob, head) => void (blob.size === asset.length && held.set(asset.infoHash, { blob, head })),
    delete: async (infoHash) => void held.delete(infoHash),
    prune: async (keep) => {
      for (const infoHash of held.keys()) if (!keep.has(infoHash)) held.delete(infoHash)
    },
  }
  return { copies, held }
}

test('a wholly stored asset is served from its stored Blobs, byte-exact, whole and in ranges across and inside pieces', async () => {
  const { respond, stats } = setup(await storeWith(video, bytes))
  const whole = await respond(video, 0, bytes.length - 1)
  assert.ok(whole, 'whole')
  assert.equal(whole.response.status, 200)
  assert.equal(whole.response.headers.get('x-swarmcdn-sources'), 'store')
  assert.equal(whole.response.headers.get('content-length'), String(bytes.length))
  assert.deepEqual(await body(whole.response), bytes)

  for (const [start, end] of [[PIECE - 10, 3 * PIECE + 5], [2 * PIECE + 7, 2 * PIECE + 99], [5 * PIECE, bytes.length - 1]]) {
    const part = await respond(video, start, end)
    assert.ok(part, 'part')
    assert.equal(part.response.status, 206)
    assert.equal(part.response.headers.get('content-range'), `bytes ${start}-${end}/${bytes.length}`)
    assert.deepEqual(await body(part.response), bytes.subarray(start, end + 1))
  }
  assert.equal(stats.snapshot().totals.bytes.store, bytes.length + (3 * PIECE + 5 - (PIECE - 10) + 1) + 93 + (bytes.length - 5 * PIECE))
})

test('a range with a piece missing, or a piece of the wrong size, is left to the streaming path', async () => {
  const missing = setup(await storeWith(video, bytes, [0, 1, 2, 4, 5, 6]))
  assert.equal(await missing.respond(video, 0, bytes.length - 1), null)
  assert.ok(await missing.respond(video, 0, 3 * PIECE - 1), 'the stored part alone is served')

  const short = await storeWith(video, bytes)
  await short.put(video.infoHash, 2, pieceOf(bytes, video, 2).subarray(1))
  assert.equal(await setup(short).respond(video, 0, bytes.length - 1), null)
})

test('active content (script, SVG, HTML) is never served unchecked, even when stored', async () => {
  for (const type of ['text/javascript', 'image/svg+xml', 'text/html', 'application/wasm', 'application/json']) {
    const asset = makeAsset(bytes, { path: '/x', type })
    const { respond } = setup(await storeWith(asset, bytes))
    assert.equal(await respond(asset, 0, bytes.length - 1), null, type)
  }
})

test('isPassiveMedia: media and downloads yes; code, markup and SVG no', () => {
  for (const type of ['image/jpeg', 'IMAGE/PNG', 'image/avif', 'video/mp4', 'audio/ogg', 'font/woff2', 'application/octet-stream', 'application/zip', 'video/webm; codecs=vp9']) assert.equal(isPassiveMedia(type), true, type)
  for (const type of ['image/svg+xml', 'text/javascript', 'application/javascript', 'text/css', 'text/html', 'application/wasm', 'application/json', 'application/pdf', 'application/vnd.apple.mpegurl']) assert.equal(isPassiveMedia(type), false, type)
})

test('every piece served is checked after the page goes quiet; a bad one deletes the asset, which then takes the streaming path', async () => {
  const tampered = bytes.slice()
  tampered[4 * PIECE + 17] ^= 0xff
  const store = await storeWith(video, tampered)
  const { respond, timer, corrupt } = setup(store)

  const first = await respond(video, 0, bytes.length - 1)
  assert.ok(first, 'served before the check: the documented trade (passive media only)')
  await body(first.response)
  assert.deepEqual(corrupt, [], 'no check before the page is quiet')
  timer.fire()
  await first.done
  assert.deepEqual(corrupt, [4])
  assert.equal(await store.getBlob(video.infoHash, 0), undefined, 'every piece of the asset left the store')
  assert.equal(await respond(video, 0, bytes.length - 1), null)
})

test('every serve is checked again (a record rewritten since the last check is caught); a piece served twice before the checks is read once', async () => {
  const store = await storeWith(video, bytes)
  const counting = countingChecks(store)
  const { respond, timer, corrupt } = setup(counting.store)
  const pieces = pieceCount(bytes.length, PIECE)
  await respond(video, 0, bytes.length - 1)
  const twice = await respond(video, 0, bytes.length - 1)
  timer.fire()
  await twice!.done
  assert.equal(counting.counter.reads, pieces)

  const tampered = pieceOf(bytes, video, 3).slice()
  tampered[0] ^= 1
  await store.put(video.infoHash, 3, tampered)
  const again = await respond(video, 0, bytes.length - 1)
  assert.ok(again, 'again')
  timer.fire()
  await again.done
  assert.equal(counting.counter.reads, pieces + 4, 'read again up to the bad piece; the rest of the asset is deleted, not read')
  assert.deepEqual(corrupt, [3])
})

test('the checks give way: a stored response starting while they run pauses them until the page is quiet again', async () => {
  let respondDuringChecks: (() => Promise<unknown>) | null = null
  // The page asks again while the second piece is being checked.
  const counting = countingChecks(await storeWith(video, bytes), (reads) => (reads === 2 ? respondDuringChecks?.() : undefined))
  const { respond, timer } = setup(counting.store)
  const first = await respond(video, 0, PIECE * 4 - 1)
  respondDuringChecks = () => respond(video, PIECE * 4, bytes.length - 1)
  timer.fire()
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(counting.counter.reads, 2, 'stopped after the piece under way when the page asked again')
  assert.equal(timer.armed(), true, 'resumes once quiet')
  timer.fire()
  await first!.done
  assert.equal(counting.counter.reads, pieceCount(bytes.length, PIECE))
})

test('a whole serve from the pieces leaves a whole copy; later requests, whole and in ranges, come from the copy, byte-exact', async () => {
  const store = await storeWith(video, bytes)
  const { copies, held } = memoryCopies()
  const { respond, timer, stats } = setup(store, copies)
  const first = await respond(video, 0, bytes.length - 1)
  await body(first!.response)
  timer.fire()
  await first!.done
  assert.equal(held.size, 1, 'a copy was made')

  // Gone from the piece store: whatever is served now can only come from the copy.
  await store.deleteAsset(video.infoHash)
  const whole = await respond(video, 0, bytes.length - 1)
  assert.ok(whole, 'whole')
  assert.equal(whole.response.status, 200)
  assert.equal(whole.response.headers.get('x-swarmcdn-sources'), 'store')
  assert.equal(whole.response.headers.get('content-type'), 'video/webm')
  assert.deepEqual(await body(whole.response), bytes)
  const part = await respond(video, PIECE + 3, 4 * PIECE + 9)
  assert.ok(part, 'part')
  assert.equal(part.response.status, 206)
  assert.equal(part.response.headers.get('content-range'), `bytes ${PIECE + 3}-${4 * PIECE + 9}/${bytes.length}`)
  assert.deepEqual(await body(part.response), bytes.subarray(PIECE + 3, 4 * PIECE + 10))
  assert.equal(stats.snapshot().totals.bytes.store, 2 * bytes.length + 3 * PIECE + 7)
})

test('a partial serve, or an asset with a piece missing, leaves no copy; keepCopy makes one once every piece is stored', async () => {
  const store = await storeWith(video, bytes, [0, 1, 2, 3, 4, 5])
  const { copies, held } = memoryCopies()
  const { respond, responder, timer } = setup(store, copies)
  const part = await respond(video, 0, 2 * PIECE)
  timer.fire()
  await part!.done
  await responder.keepCopy(video)
  assert.equal(held.size, 0)
  await store.put(video.infoHash, 6, pieceOf(bytes, video, 6))
  await responder.keepCopy(video)
  assert.equal(held.size, 1)
  assert.deepEqual(new Uint8Array(await held.get(video.infoHash)!.blob.arrayBuffer()), bytes)

  const script = makeAsset(bytes, { path: '/app.js', type: 'text/javascript' })
  await setup(await storeWith(script, bytes), copies).responder.keepCopy(script)
  assert.equal(held.has(script.infoHash), false, 'active content never gets a copy (it is checked before every serve)')
})

test('a copy changed behind the worker is served at most once: its check deletes it and the pieces; the next request takes the streaming path', async () => {
  const store = await storeWith(video, bytes)
  const { copies, held } = memoryCopies()
  const tampered = bytes.slice()
  tampered[5 * PIECE + 1] ^= 0x20
  await copies.put(video, new Blob([tampered]), { status: 200, statusText: 'OK', headers: new Headers({ 'X-Swarmcdn-Sources': 'store' }) })
  const { respond, timer, corrupt } = setup(store, copies)
  const served = await respond(video, 0, bytes.length - 1)
  assert.deepEqual(await body(served!.response), tampered, 'served before its check: the documented trade (passive media only)')
  timer.fire()
  await served!.done
  assert.deepEqual(corrupt, [5])
  assert.equal(held.size, 0, 'the copy is gone')
  assert.equal(await store.getBlob(video.infoHash, 0), undefined, 'and the pieces it was made from')
  assert.equal(await respond(video, 0, bytes.length - 1), null)
})
