// The scheduler alone (sw/piece-scheduler.ts), with scripted peers and HTTP runs and timers fired by
// hand: which source is asked for what, in which order of events.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ManifestAsset } from '../core/manifest-format.ts'
import type { PeerPieces } from '../sw/peer-source-port.ts'
import type { PieceDelivery } from '../sw/piece-source.ts'
import { createSchedulerClock, createSlotLimiter, schedulePieces, type HttpRuns } from '../sw/piece-scheduler.ts'
import { createHash } from 'node:crypto'
import { verifyPiece, type PieceVerifier } from '../sw/piece-verifier.ts'
import { PIECE, makeAsset, makeBytes, manualTimers, pieceOf } from './sw-fixtures.ts'

const bytes = makeBytes(4 * PIECE, 5)
const asset = makeAsset(bytes, { path: '/media/clip.webm' })

/** Real checks with a synchronous SHA-1, so settle() needs no thread pool: nothing here depends on timing. */
const verify: PieceVerifier = (a, index, piece) => verifyPiece(a, index, piece, async (data) => {
  const digest = createHash('sha1').update(data).digest()
  return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength)
})

/** Lets every pending promise callback run. */
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
}

interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(error: Error): void
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: Error) => void
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)))
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

/** Peers that hold every piece (or none) and answer when the test says; `crowd` can change. */
function scriptedPeers(options: { holdNothing?: boolean } = {}) {
  const requests = new Map<number, Deferred<Uint8Array>>()
  const state = { crowd: true }
  const peers: PeerPieces = {
    has: () => !options.holdNothing,
    crowd: () => state.crowd,
    settling: () => false,
    request(_asset, index) {
      const answer = deferred<Uint8Array>()
      requests.set(index, answer)
      return { promise: answer.promise, cancel: () => answer.reject(new Error('cancelled')) }
    },
    verdict: () => undefined,
    onAvailable: () => () => undefined,
  }
  return { peers, requests, state }
}

/** HTTP runs that deliver when the test says. */
function scriptedHttp() {
  const runs: Array<{ first: number; last: number; emit: (piece: PieceDelivery) => void; done: Deferred<void> }> = []
  const http: HttpRuns = {
    fetchRun(_asset: ManifestAsset, first, last, emit) {
      const done = deferred<void>()
      runs.push({ first, last, emit, done })
      return done.promise
    },
  }
  return { http, runs }
}

test('a late peer piece raced over HTTP: when the peer then gives up, the piece is not asked of the origin a second time while the first HTTP run is still on it', async () => {
  const timers = manualTimers()
  const { peers, requests } = scriptedPeers()
  const { http, runs } = scriptedHttp()
  const delivered: Array<[number, string]> = []
  const finished = schedulePieces(
    {
      peers,
      http,
      httpSlots: createSlotLimiter(4),
      verify,
      config: { peerBudgetMs: 1000, peerAssumedBytesPerSec: Infinity, webseedMaxRunBytes: 4 * PIECE, webseedCrowdRunBytes: PIECE },
      clock: createSchedulerClock(),
      setTimer: timers.setTimer,
      random: () => 0,
    },
    asset,
    [0],
    { deliver: (index, _bytes, source) => delivered.push([index, source]), fail: (index, error) => assert.fail(`piece ${index} failed: ${error.code}`) },
  )
  await settle()
  assert.deepEqual([...requests.keys()], [0], 'asked of peers first')
  assert.equal(runs.length, 0)
  // Past the budget: HTTP races the late peer.
  timers.fire(1000)
  await settle()
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 0]])
  // The peer gives up while the HTTP run is still downloading the piece.
  requests.get(0)!.reject(new Error('unavailable'))
  await settle()
  assert.equal(runs.length, 1, 'the piece is already on the wire: no second Range request for it')
  runs[0].emit({ index: 0, bytes: pieceOf(bytes, asset, 0) })
  runs[0].done.resolve()
  await finished
  assert.deepEqual(delivered, [[0, 'http']])
})

test('a batch planned while the page was connecting takes large runs in reading order once its agent settled alone', async () => {
  const big = makeBytes(8 * PIECE, 6)
  const clip = makeAsset(big, { path: '/media/long.webm' })
  const { peers, state } = scriptedPeers({ holdNothing: true })
  const { http, runs } = scriptedHttp()
  const delivered: number[] = []
  const finished = schedulePieces(
    {
      peers,
      http,
      httpSlots: createSlotLimiter(1),
      verify,
      config: { peerBudgetMs: 1000, peerAssumedBytesPerSec: Infinity, webseedMaxRunBytes: 4 * PIECE, webseedCrowdRunBytes: PIECE },
      clock: createSchedulerClock(),
      setTimer: manualTimers().setTimer,
      random: () => 0.5,
    },
    clip,
    [0, 1, 2, 3, 4, 5, 6, 7],
    { deliver: (index) => delivered.push(index), fail: (index, error) => assert.fail(`piece ${index} failed: ${error.code}`) },
  )
  const complete = async (run: (typeof runs)[number]) => {
    for (let index = run.first; index <= run.last; index++) run.emit({ index, bytes: pieceOf(big, clip, index) })
    run.done.resolve()
    await settle()
  }
  await settle()
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 0]], 'in a crowd: the reader\'s next piece, one small run')
  await complete(runs[0])
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 0], [4, 4]], 'still a crowd: small runs from a random place')
  state.crowd = false // the agent settled: nobody else is here
  await complete(runs[1])
  assert.deepEqual(runs.slice(2).map((run) => [run.first, run.last]), [[1, 3]], 'alone: the rest in reading order, in large runs')
  await complete(runs[2])
  assert.deepEqual(runs.slice(3).map((run) => [run.first, run.last]), [[5, 7]])
  await complete(runs[3])
  await finished
  assert.deepEqual([...delivered].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7])
})
