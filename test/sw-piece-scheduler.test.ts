// The scheduler alone (sw/piece-scheduler.ts), with scripted peers and HTTP runs and timers fired by
// hand: which source is asked for what, in which order of events.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ManifestAsset } from '../core/manifest-format.ts'
import type { PeerPieces } from '../sw/peer-source-port.ts'
import type { CrowdShare } from '../core/agent-protocol.ts'
import type { PieceDelivery } from '../sw/piece-source.ts'
import { createSchedulerClock, schedulePieces, type HttpRuns, type SchedulerDeps } from '../sw/piece-scheduler.ts'
import { createSlotLimiter } from '../sw/http-slots.ts'
import { createHash } from 'node:crypto'
import { verifyPiece, type PieceVerifier } from '../sw/piece-verifier.ts'
import { PIECE, feedMeter, makeAsset, makeBytes, manualTimers, pieceOf } from './sw-fixtures.ts'
import { ownsPiece } from '../core/crowd-share.ts'

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
    holds: () => false,
    share: () => null,
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

const noFailure = (index: number, error: { code: string }) => assert.fail(`piece ${index} failed: ${error.code}`)

/**
 * Scheduler deps: 4 HTTP slots, timers fired by hand, random() = 0, budget x assumed peer rate =
 * 2 pieces (the floor is 4 in flight), and offloadBias 0 (the split that ends soonest); each test
 * overrides what it is about.
 */
function schedulerDeps(peers: PeerPieces, http: HttpRuns, overrides: { slots?: number; peerAssumedBytesPerSec?: number; offloadBias?: number; setTimer?: SchedulerDeps['setTimer']; random?: number } = {}): SchedulerDeps {
  return {
    peers,
    http,
    httpSlots: createSlotLimiter(overrides.slots ?? 4),
    verify,
    config: { peerBudgetMs: 1000, offloadBias: overrides.offloadBias ?? 0, peerAssumedBytesPerSec: overrides.peerAssumedBytesPerSec ?? 2 * PIECE, webseedMaxRunBytes: 4 * PIECE, webseedCrowdRunBytes: PIECE },
    clock: createSchedulerClock(),
    setTimer: overrides.setTimer ?? manualTimers().setTimer,
    random: () => overrides.random ?? 0,
  }
}

test('a late peer piece raced over HTTP: when the peer then gives up, the piece is not asked of the origin a second time while the first HTTP run is still on it', async () => {
  const timers = manualTimers()
  const { peers, requests } = scriptedPeers()
  const { http, runs } = scriptedHttp()
  const delivered: Array<[number, string]> = []
  const finished = schedulePieces(schedulerDeps(peers, http, { peerAssumedBytesPerSec: Infinity, setTimer: timers.setTimer }), asset, [0], {
    deliver: (index, _bytes, source) => delivered.push([index, source]),
    fail: noFailure,
  })
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

/** Deps whose clock has measured `bytes` over `ms` from one source (enough bytes to count as measured). */
function withMeasured(deps: SchedulerDeps, source: 'http' | 'peers', bytes: number, ms: number): SchedulerDeps {
  let now = 0
  const clock = createSchedulerClock(() => now)
  const end = clock[source].begin()
  now = ms
  clock[source].add(bytes)
  end()
  return { ...deps, clock }
}

/** Deps whose clock has measured the peers at the assumed rate of the deps, 2 pieces a second. */
function withMeasuredPeers(deps: SchedulerDeps): SchedulerDeps {
  return withMeasured(deps, 'peers', 32 * PIECE, 16_000)
}

/** Deps whose clock has measured HTTP at 10 MB/s: far faster than the peers' assumed 2 pieces a second. */
function withFastOrigin(deps: SchedulerDeps): SchedulerDeps {
  return withMeasured(deps, 'http', 1_000_000, 100)
}

test('a peer piece past its deadline brings the pieces asked of peers after it: HTTP races them in one run, not one by one at their own deadlines', async () => {
  const timers = manualTimers()
  const { peers, requests } = scriptedPeers()
  const { http, runs } = scriptedHttp()
  const delivered: Array<[number, string]> = []
  // Peers at 2 pieces a second: piece k is due 1000 ms (the budget) + (k + 1) x 500 ms after it is asked.
  const finished = schedulePieces(withFastOrigin(schedulerDeps(peers, http, { setTimer: timers.setTimer })), asset, [0, 1, 2, 3], {
    deliver: (index, _bytes, source) => delivered.push([index, source]),
    fail: noFailure,
  })
  await settle()
  assert.deepEqual([...requests.keys()], [0, 1, 2, 3], 'all four asked of peers (the pipeline floor)')
  assert.equal(runs.length, 0)
  assert.equal(timers.fire(1500), 1, 'piece 0 is late')
  await settle()
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 3]], 'one run for the late piece and those behind it')
  // A peer piece that arrives meanwhile still wins; the run's copy of it is dropped.
  requests.get(2)!.resolve(pieceOf(bytes, asset, 2))
  await settle()
  for (const index of [0, 1, 2, 3]) runs[0].emit({ index, bytes: pieceOf(bytes, asset, index) })
  runs[0].done.resolve()
  await finished
  assert.deepEqual(delivered.sort(([a], [b]) => a - b), [[0, 'http'], [1, 'http'], [2, 'peers'], [3, 'http']])
})

test('where HTTP is not much faster than the peers (a crowd at a congested origin), a late piece is raced alone', async () => {
  const timers = manualTimers()
  const { peers, requests } = scriptedPeers()
  const { http, runs } = scriptedHttp()
  const finished = schedulePieces(schedulerDeps(peers, http, { setTimer: timers.setTimer }), asset, [0, 1, 2, 3], { deliver: () => undefined, fail: noFailure })
  await settle()
  assert.equal(timers.fire(1500), 1, 'piece 0 is late')
  await settle()
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 0]], 'the others wait for their own deadlines')
  for (const index of [1, 2, 3]) requests.get(index)!.resolve(pieceOf(bytes, asset, index))
  runs[0].emit({ index: 0, bytes: pieceOf(bytes, asset, 0) })
  runs[0].done.resolve()
  await finished
})

test('an HTTP run that goes the budget and a piece\'s time without a piece has the rest asked of the peers that hold them; the first verified copy wins', async () => {
  const timers = manualTimers()
  const { peers, requests, state } = scriptedPeers()
  state.crowd = false // one large run
  const held = { now: false }
  const { http, runs } = scriptedHttp()
  const deps = schedulerDeps({ ...peers, has: () => held.now }, http, { setTimer: timers.setTimer })
  const delivered: Array<[number, string]> = []
  const finished = schedulePieces(deps, asset, [0, 1, 2, 3], { deliver: (index, _bytes, source) => delivered.push([index, source]), fail: noFailure })
  await settle()
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 3]], 'nobody holds a piece: HTTP at once')
  // HTTP at the assumed 2 pieces a second, one run open: a piece's time is 500 ms, the budget 1000.
  const stallMs = 1000 + 500
  assert.deepEqual(timers.pending(), [stallMs])
  runs[0].emit({ index: 0, bytes: pieceOf(bytes, asset, 0) })
  await settle()
  assert.deepEqual(timers.pending(), [stallMs], 'a piece re-arms the deadline: one timer')
  held.now = true // a peer connected that holds the asset
  assert.equal(requests.size, 0, 'pieces on a run that is moving are not asked of peers')
  assert.equal(timers.fire(stallMs), 1)
  await settle()
  assert.deepEqual([...requests.keys()], [1, 2, 3], 'the stalled run\'s missing pieces go to peers')
  assert.equal(deps.clock.counts.stalledRuns, 1)
  requests.get(1)!.resolve(pieceOf(bytes, asset, 1))
  requests.get(2)!.resolve(pieceOf(bytes, asset, 2))
  await settle()
  // The run comes back to life: its copies of 1 and 2 are dropped, 3 is taken from it.
  for (const index of [1, 2, 3]) runs[0].emit({ index, bytes: pieceOf(bytes, asset, index) })
  runs[0].done.resolve()
  await finished
  assert.deepEqual(delivered.sort(([a], [b]) => a - b), [[0, 'http'], [1, 'peers'], [2, 'peers'], [3, 'http']])
})

test('a batch planned while the page was connecting takes large runs in reading order once its agent settled alone', async () => {
  const big = makeBytes(8 * PIECE, 6)
  const clip = makeAsset(big, { path: '/media/long.webm' })
  const { peers, state } = scriptedPeers({ holdNothing: true })
  const { http, runs } = scriptedHttp()
  const delivered: number[] = []
  const finished = schedulePieces(schedulerDeps(peers, http, { slots: 1, peerAssumedBytesPerSec: Infinity, random: 0.5 }), clip, [0, 1, 2, 3, 4, 5, 6, 7], {
    deliver: (index) => delivered.push(index),
    fail: noFailure,
  })
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

test('a visitor alone spreads a batch over the HTTP slots: each run takes a slot\'s part of what is left (at least 1 MiB), so the last megabytes come over several connections', async () => {
  const pieceLength = 256 * 1024
  const big = makeBytes(32 * pieceLength, 7) // 8 MiB
  const film = makeAsset(big, { path: '/media/film.webm', pieceLength })
  const { http, runs } = scriptedHttp()
  const deps = schedulerDeps(scriptedPeers().peers, http, { slots: 4 })
  const alone = { ...deps, peers: null, config: { ...deps.config, webseedMaxRunBytes: 16 * 1024 * 1024 } }
  const indexes = Array.from({ length: 32 }, (_, index) => index)
  const delivered: number[] = []
  const finished = schedulePieces(alone, film, indexes, { deliver: (index) => delivered.push(index), fail: noFailure })
  await settle()
  // 8 MiB over 4 slots: 2 MiB; then a quarter of the 6 MiB left, and so on down to 1 MiB.
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 7], [8, 13], [14, 17], [18, 21]])
  const fetched = await runToCompletion(runs, big, film)()
  assert.deepEqual(runs.slice(4).map((run) => [run.first, run.last]), [[22, 25], [26, 29], [30, 31]], 'the rest in 1 MiB runs, as slots free up')
  assert.deepEqual(fetched, indexes)
  await finished
  assert.deepEqual(delivered, indexes)
})

/** Runs HTTP runs to completion as they come, until none is left; returns the pieces fetched, in order. */
function runToCompletion(runs: ReturnType<typeof scriptedHttp>['runs'], assetBytes: Uint8Array, a: ManifestAsset) {
  let completed = 0
  const fetched: number[] = []
  return async () => {
    for (;;) {
      await settle()
      await settle()
      if (completed === runs.length) return fetched
      const run = runs[completed++]!
      for (let index = run.first; index <= run.last; index++) {
        fetched.push(index)
        run.emit({ index, bytes: pieceOf(assetBytes, a, index) })
      }
      run.done.resolve()
    }
  }
}

test('in a crowd, HTTP fetches this page\'s own share at once, in reading order; another member\'s pieces only once it made no progress for a budget', async () => {
  const clipBytes = makeBytes(12 * PIECE, 11)
  const clip = makeAsset(clipBytes, { path: '/media/crowd.webm' })
  const timers = manualTimers()
  const { peers, state } = scriptedSitePeers()
  state.holdNothing = true // nobody holds anything yet: the crowd has just arrived
  const share = { rank: 1, of: 3 }
  state.share = share
  const { http, runs } = scriptedHttp()
  const all = Array.from({ length: 12 }, (_, i) => i)
  const finished = schedulePieces(schedulerDeps(peers, http, { slots: 1, setTimer: timers.setTimer, random: 0.5 }), clip, all, { deliver: () => undefined, fail: noFailure })
  const completeRuns = runToCompletion(runs, clipBytes, clip)
  const own = all.filter((index) => ownsPiece(share, clip.infoHash, index))
  assert.ok(own.length >= 3 && own.length <= 5, `a third of the pieces is this page's: ${own}`)
  assert.deepEqual(await completeRuns(), own, 'its own share in reading order, nothing of the others\'')
  timers.fire(1000) // a budget without progress from the others: what they did not share comes from HTTP too
  const fetched = await completeRuns()
  await finished
  assert.deepEqual([...fetched].sort((a, b) => a - b), all, 'every piece from the origin exactly once')
})

test('in a crowd, a member whose pieces keep arriving keeps its share; one that stops loses it to HTTP', async () => {
  const clipBytes = makeBytes(12 * PIECE, 13)
  const clip = makeAsset(clipBytes, { path: '/media/shared.webm' })
  const timers = manualTimers()
  const { peers, state, announce } = scriptedSitePeers()
  state.held = new Set() // nobody holds anything yet
  const share = { rank: 0, of: 3 }
  state.share = share
  const { http, runs } = scriptedHttp()
  const all = Array.from({ length: 12 }, (_, i) => i)
  schedulePieces(schedulerDeps(peers, http, { slots: 1, setTimer: timers.setTimer }), clip, all, { deliver: () => undefined, fail: noFailure })
  const completeRuns = runToCompletion(runs, clipBytes, clip)
  const ownedBy = (rank: number) => all.filter((index) => ownsPiece({ rank, of: 3 }, clip.infoHash, index))
  const [busy, idle] = [ownedBy(1), ownedBy(2)]
  assert.deepEqual(await completeRuns(), ownedBy(0), 'its own share first')
  for (let check = 0; check < 3; check++) {
    // Member 1 makes one more of its pieces available each budget (it fetches its share); member 2 none.
    state.held.add(busy[check]!)
    announce(clip.infoHash)
    timers.fire(1000)
  }
  const fetched = await completeRuns()
  assert.deepEqual(fetched.filter((index) => busy.includes(index)), [], 'nothing of the member that makes progress')
  assert.deepEqual([...fetched].filter((index) => idle.includes(index)).sort((a, b) => a - b), idle, 'the idle member\'s share from the origin')
})

test('while a crowd is still fetching a batch from an origin not much faster than the peers, HTTP neither steals from the peers nor races them; once everything is held, it does both again', async () => {
  const clipBytes = makeBytes(12 * PIECE, 14)
  const clip = makeAsset(clipBytes, { path: '/media/fresh.webm' })
  const timers = manualTimers()
  const { peers, state, announce } = scriptedSitePeers()
  const share = { rank: 0, of: 2 }
  state.share = share
  const all = Array.from({ length: 12 }, (_, i) => i)
  // The first eight pieces are held by a connected peer; of the last four, nobody holds any yet.
  state.held = new Set(all.slice(0, 8))
  const { http, runs } = scriptedHttp()
  const deps = schedulerDeps(peers, http, { slots: 4, setTimer: timers.setTimer }) // both rates the assumed one
  schedulePieces(deps, clip, all, { deliver: () => undefined, fail: noFailure })
  const completeRuns = runToCompletion(runs, clipBytes, clip)
  const mineLeft = all.slice(8).filter((index) => ownsPiece(share, clip.infoHash, index))
  assert.deepEqual(await completeRuns(), mineLeft, 'HTTP takes its own share of what nobody holds, nothing the peer holds')
  const racesBefore = runs.length
  for (const ms of new Set(timers.pending())) timers.fire(ms) // every peer request is late, and the release checks run
  assert.equal(runs.length, racesBefore, 'no race while the crowd still fetches what nobody holds')
  for (const index of all.slice(8)) state.held.add(index) // the other member fetched and shared its pieces
  announce(clip.infoHash)
  await settle()
  assert.ok(runs.length > racesBefore, 'everything is held: HTTP steals from the far end again')
})

test('while the crowd still fetches any batch of the worker from an origin not much faster than the peers, no batch steals, even one whose pieces are all held', async () => {
  const photoBytes = makeBytes(8 * PIECE, 15)
  const filmBytes = makeBytes(12 * PIECE, 16)
  const photo = makeAsset(photoBytes, { path: '/media/photo.jpg' })
  const film = makeAsset(filmBytes, { path: '/media/film.webm' })
  const { peers, state, announce } = scriptedSitePeers()
  state.share = { rank: 0, of: 2 }
  // Connected peers hold pieces 0-7 of each asset: the whole photo, and the film but its last four.
  state.held = new Set(Array.from({ length: 8 }, (_, i) => i))
  const runs: Array<[string, number, number]> = []
  const http: HttpRuns = {
    async fetchRun(a, first, last, emit) {
      runs.push([a.path, first, last])
      for (let index = first; index <= last; index++) emit({ index, bytes: pieceOf(a === photo ? photoBytes : filmBytes, a, index) })
    },
  }
  const deps = schedulerDeps(peers, http, { slots: 4 }) // both rates the assumed one
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
  void schedulePieces(deps, film, range(0, 11), { deliver: () => undefined, fail: noFailure })
  void schedulePieces(deps, photo, range(0, 7), { deliver: () => undefined, fail: noFailure })
  await settle()
  await settle()
  const filmOwn = range(8, 11).filter((index) => ownsPiece(state.share!, film.infoHash, index))
  assert.deepEqual(runs.filter(([path]) => path === film.path).flatMap(([, first, last]) => range(first, last)), filmOwn, 'the film: its own share of what nobody holds')
  assert.deepEqual(runs.filter(([path]) => path === photo.path), [], 'the photo, all held, steals nothing while the film is still fetched')
  for (const index of range(8, 11)) state.held.add(index) // the other member fetched and shared the rest
  announce(film.infoHash)
  announce(photo.infoHash)
  await settle()
  await settle()
  assert.ok(runs.some(([path]) => path === photo.path), 'everything is held: the photo steals again')
})

test('a crowd whose origin is measured far faster than its peers steals from them as one visitor would: the origin is not its bottleneck', async () => {
  const clipBytes = makeBytes(12 * PIECE, 17)
  const clip = makeAsset(clipBytes, { path: '/media/fast-origin.webm' })
  const { peers, state } = scriptedSitePeers()
  state.share = { rank: 0, of: 2 }
  const all = Array.from({ length: 12 }, (_, i) => i)
  state.held = new Set(all.slice(0, 8)) // nobody holds the last four yet
  const { http, runs } = scriptedHttp()
  schedulePieces(withFastOrigin(schedulerDeps(peers, http, { slots: 4 })), clip, all, { deliver: () => undefined, fail: noFailure })
  const fetched = await runToCompletion(runs, clipBytes, clip)()
  assert.ok(fetched.some((index) => index < 8), `HTTP takes pieces the peer holds too: ${fetched}`)
})

test('HTTP steals at most 1 MiB at a time from what peers hold, whatever the rates: the split is decided again soon', async () => {
  const count = 1000 // 16 MB of 16 KiB pieces
  const bigBytes = makeBytes(count * PIECE, 23)
  const big = makeAsset(bigBytes, { path: '/media/long.webm' })
  const all = Array.from({ length: count }, (_, i) => i)
  const firstSteal = async (peerBytesPerSec: number | null) => {
    const { peers } = scriptedPeers()
    const { http, runs } = scriptedHttp()
    const base = schedulerDeps(peers, http)
    const time = { now: 0 }
    const clock = createSchedulerClock(() => time.now)
    feedMeter(clock.http, time, 3_000_000, 1000)
    if (peerBytesPerSec !== null) feedMeter(clock.peers, time, peerBytesPerSec, 1000)
    schedulePieces({ ...base, clock, config: { ...base.config, webseedMaxRunBytes: count * PIECE } }, big, all, { deliver: () => undefined, fail: noFailure })
    await settle()
    assert.ok(runs.length > 0, 'HTTP stole nothing')
    return runs[0]!.last - runs[0]!.first + 1
  }
  const mib = (1024 * 1024) / PIECE
  for (const [peerRate, what] of [[null, 'an assumed peer rate'], [1_500_000, 'the peers measured at half HTTP\'s rate'], [320_000, 'the peers measured far slower']] as const) {
    const steal = await firstSteal(peerRate)
    assert.ok(steal <= mib, `a ${steal}-piece steal with ${what}`)
    assert.ok(steal > mib / 2, `a ${steal}-piece steal with ${what}: the cap is not what limits it`)
  }
})

test('HTTP\'s split counts the peers at their last second\'s rate when they have sped up: it steals less', async () => {
  const count = 2000 // 32 MB of 16 KiB pieces: the budget's slack is small beside it
  const bigBytes = makeBytes(count * PIECE, 31)
  const big = makeAsset(bigBytes, { path: '/media/ramp.webm' })
  const all = Array.from({ length: count }, (_, i) => i)
  const stolen = async (peersSpedUp: boolean) => {
    const { peers } = scriptedPeers() // they hold everything and answer nothing: the split alone decides
    const { http, runs } = scriptedHttp()
    const base = schedulerDeps(peers, http, { slots: 64, offloadBias: 1 })
    const time = { now: 0 }
    const clock = createSchedulerClock(() => time.now)
    feedMeter(clock.http, time, 2_200_000, 4000)
    if (peersSpedUp) {
      // Just connected: 1 MB/s for 3 s, then 2 MB/s for the last second.
      feedMeter(clock.peers, time, 1_000_000, 3000)
      feedMeter(clock.peers, time, 2_000_000, 1000)
    } else {
      feedMeter(clock.peers, time, 1_000_000, 4000)
    }
    schedulePieces({ ...base, clock, config: { ...base.config, peerBudgetMs: 500, webseedMaxRunBytes: 64 * PIECE } }, big, all, { deliver: () => undefined, fail: noFailure })
    await settle()
    return runs.reduce((sum, run) => sum + run.last - run.first + 1, 0)
  }
  const steady = await stolen(false)
  const spedUp = await stolen(true)
  // HTTP's share against 2.2 MB/s: about 55% at a steady 1 MB/s; about 25% at the last second's rate
  // (1.6 MB/s, exponentially weighted); 37% at the rate over the last few seconds (1.4 MB/s).
  assert.ok(steady > 0.4 * count, `HTTP took only ${steady} of ${count} pieces from steady 1 MB/s peers: the test proves nothing`)
  assert.ok(spedUp < 0.28 * count, `HTTP took ${spedUp} of ${count} pieces from peers that sped up to 2 MB/s`)
})

test('pieces read from the browser\'s HTTP cache do not count towards HTTP\'s measured rate; pieces from the network do', async () => {
  // 320 KiB: past the meter's minimum; its clock moves 10 ms at each look.
  const fileBytes = makeBytes(20 * PIECE, 29)
  const file = makeAsset(fileBytes, { path: '/media/cached.webm' })
  const all = Array.from({ length: 20 }, (_, i) => i)
  const measuredAfter = async (cached: boolean) => {
    const { peers } = scriptedPeers({ holdNothing: true })
    const { http, runs } = scriptedHttp()
    let now = 0
    const deps = { ...schedulerDeps(peers, http), clock: createSchedulerClock(() => (now += 10)) }
    const finished = schedulePieces(deps, file, all, { deliver: () => undefined, fail: noFailure })
    for (let next = 0, started = 0; next < all.length; ) {
      await settle()
      const run = runs[started]
      if (!run) continue
      started++
      for (let index = run.first; index <= run.last; index++) run.emit(cached ? { index, bytes: pieceOf(fileBytes, file, index), cached: true } : { index, bytes: pieceOf(fileBytes, file, index) })
      run.done.resolve()
      next = Math.max(next, run.last + 1)
    }
    await finished
    return deps.clock.http.rate(0)
  }
  assert.equal(await measuredAfter(true), 0, 'the HTTP cache measured as the origin')
  assert.ok((await measuredAfter(false)) > 0, 'the network not measured at all: the test proves nothing')
})

/** Peers holding every piece of every asset, answering when the test says; requests keyed `path:index`. */
function scriptedSitePeers() {
  const requests = new Map<string, Deferred<Uint8Array>>()
  /** `held`: the pieces connected peers hold, when not all (or none, with holdNothing). */
  const state: { settling: boolean; crowd: boolean; holdNothing: boolean; held: Set<number> | null; share: CrowdShare | null } = { settling: false, crowd: true, holdNothing: false, held: null, share: null }
  const listeners = new Set<(infoHash: string | null) => void>()
  const peers: PeerPieces = {
    has: (_infoHash, index) => (state.held ? state.held.has(index) : !state.holdNothing),
    crowd: () => state.crowd,
    settling: () => state.settling,
    holds: () => state.settling,
    share: () => state.share,
    request(a, index) {
      const answer = deferred<Uint8Array>()
      requests.set(`${a.path}:${index}`, answer)
      return { promise: answer.promise, cancel: () => answer.reject(new Error('cancelled')) }
    },
    verdict: () => undefined,
    onAvailable(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
  }
  /** The agent stopped settling (what peer-source-port reports as `null`). */
  const settled = () => {
    state.settling = false
    for (const listener of listeners) listener(null)
  }
  /** Peers made pieces of this asset available. */
  const announce = (infoHash: string) => {
    for (const listener of listeners) listener(infoHash)
  }
  return { peers, requests, state, settled, announce }
}


test('peers are asked, across every batch of the worker, only what they deliver in about the budget; a piece they deliver frees room for another batch', async () => {
  const photoBytes = makeBytes(4 * PIECE, 7)
  const photo = makeAsset(photoBytes, { path: '/media/photo.jpg' })
  const film = makeAsset(makeBytes(8 * PIECE, 8), { path: '/media/film.webm' })
  const { peers, requests } = scriptedSitePeers()
  const { http, runs } = scriptedHttp()
  const deps = schedulerDeps(peers, http)
  const delivered: string[] = []
  const photoDone = schedulePieces(deps, photo, [0, 1, 2, 3], { deliver: (index, _b, source) => delivered.push(`photo:${index}:${source}`), fail: noFailure })
  schedulePieces(deps, film, [0, 1, 2, 3, 4, 5, 6, 7], { deliver: (index, _b, source) => delivered.push(`film:${index}:${source}`), fail: noFailure })
  await settle()
  assert.deepEqual([...requests.keys()], ['/media/photo.jpg:0', '/media/photo.jpg:1', '/media/photo.jpg:2', '/media/photo.jpg:3'], 'four pieces in all, not four per batch')
  // The peers are full, and none is on the film: HTTP takes its share (half, before any rate is
  // measured) from the film's front, where its reader waits, in one large run.
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 3]])
  requests.get('/media/photo.jpg:0')!.resolve(pieceOf(photoBytes, photo, 0))
  await settle()
  assert.ok(requests.has('/media/film.webm:4'), 'the room the photo freed goes to the film at once')
  assert.equal(runs.length, 1, 'HTTP already has its share of the film')
  assert.equal(requests.size, 5)
  for (const index of [1, 2, 3]) requests.get(`/media/photo.jpg:${index}`)!.resolve(pieceOf(photoBytes, photo, index))
  await photoDone
  assert.deepEqual(delivered, ['photo:0:peers', 'photo:1:peers', 'photo:2:peers', 'photo:3:peers'])
})

/** Plans one batch of a clip of `count` pieces, all held by peers measured at the assumed rate: what each source was asked. */
async function planWithMeasuredPeers(count: number, seed: number, path: string, overrides: { offloadBias?: number } = {}) {
  const clip = makeAsset(makeBytes(count * PIECE, seed), { path })
  const { peers, requests } = scriptedSitePeers()
  const { http, runs } = scriptedHttp()
  const all = Array.from({ length: count }, (_, i) => i)
  schedulePieces(withMeasuredPeers(schedulerDeps(peers, http, overrides)), clip, all, { deliver: () => undefined, fail: noFailure })
  await settle()
  return { requests, runs }
}

test('when peers are on a batch, HTTP takes its share from the far end, so the two meet in the middle, the peers taking the budget\'s worth more', async () => {
  const { requests, runs } = await planWithMeasuredPeers(40, 10, '/media/clip.webm')
  assert.deepEqual([...requests.keys()], ['/media/clip.webm:0', '/media/clip.webm:1', '/media/clip.webm:2', '/media/clip.webm:3'], 'peers from the front')
  // HTTP at the assumed 2 pieces a second, the peers measured at as much: HTTP would take half of the
  // 36 pieces left, 18; the peers take what they deliver in the budget on top (2), so HTTP takes 16.
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[36, 39], [32, 35], [28, 31], [24, 27]], 'HTTP: from the back, in large runs')
})

test('with offloadBias 1, peers as fast as HTTP keep the whole window: they end it no later than HTTP alone would', async () => {
  const { requests, runs } = await planWithMeasuredPeers(40, 10, '/media/clip.webm', { offloadBias: 1 })
  assert.equal(requests.size, 4, 'peers from the front')
  // The same rates as above, where HTTP took 16 pieces with offloadBias 0.
  assert.deepEqual(runs, [], 'nothing for HTTP')
})

test('a batch the peers deliver within the budget is left to them whole, though HTTP would end it sooner', async () => {
  const { requests, runs } = await planWithMeasuredPeers(8, 15, '/media/short.webm')
  assert.equal(requests.size, 4, 'peers from the front')
  // The 4 pieces left take the peers 2 s at their measured 2 pieces a second, against 1 s with
  // HTTP's help: later by the budget (1 s) at most.
  assert.deepEqual(runs, [], 'nothing for HTTP')
})

test('peers not measured yet are not trusted with a batch: HTTP takes its even share', async () => {
  const clipBytes = makeBytes(8 * PIECE, 16)
  const clip = makeAsset(clipBytes, { path: '/media/unknown.webm' })
  const { peers } = scriptedSitePeers()
  const { http, runs } = scriptedHttp()
  schedulePieces(schedulerDeps(peers, http), clip, [0, 1, 2, 3, 4, 5, 6, 7], { deliver: () => undefined, fail: noFailure })
  await settle()
  // A peer that trickles is measured only once its first piece is in: until then, the plain split.
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[6, 7]], 'half of what is left, from the back')
})

test('while the page\'s agent is still connecting, HTTP waits (its peers may hold the whole page); once it settled alone, large runs in parallel', async () => {
  const clipBytes = makeBytes(8 * PIECE, 9)
  const clip = makeAsset(clipBytes, { path: '/media/clip.webm' })
  const { peers, state, settled } = scriptedSitePeers()
  state.settling = true
  state.holdNothing = true
  const { http, runs } = scriptedHttp()
  const delivered: number[] = []
  const finished = schedulePieces(schedulerDeps(peers, http, { random: 0.5 }), clip, [0, 1, 2, 3, 4, 5, 6, 7], { deliver: (index) => delivered.push(index), fail: noFailure })
  await settle()
  assert.equal(runs.length, 0, 'nothing from the origin while the agent connects')
  state.crowd = false
  settled()
  await settle()
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 3], [4, 7]], 'alone: large runs in reading order, in parallel')
  for (const run of runs) {
    for (let index = run.first; index <= run.last; index++) run.emit({ index, bytes: pieceOf(clipBytes, clip, index) })
    run.done.resolve()
  }
  await finished
  assert.deepEqual([...delivered].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7])
})

test('a hold past half the budget lets HTTP fetch the front, in small runs, up to what the origin delivers in the other half at its measured rate; peers get the rest once the agent settles', async () => {
  const clipBytes = makeBytes(12 * PIECE, 12)
  const clip = makeAsset(clipBytes, { path: '/media/held.webm' })
  const { peers, requests, state, settled } = scriptedSitePeers()
  state.settling = true
  state.holdNothing = true
  const { http, runs } = scriptedHttp()
  // The origin measured at 10 pieces per second: 5 pieces in the second half of the 1000 ms budget,
  // this batch the only one.
  let ms = 0
  const clock = createSchedulerClock(() => ms)
  const end = clock.http.begin()
  ms = 4000
  clock.http.add(40 * PIECE)
  end()
  const timers = manualTimers()
  const delivered: string[] = []
  const all = Array.from({ length: 12 }, (_, i) => i)
  const finished = schedulePieces({ ...schedulerDeps(peers, http, { slots: 8, setTimer: timers.setTimer }), clock }, clip, all, { deliver: (index, _b, source) => delivered.push(`${index}:${source}`), fail: noFailure })
  await settle()
  assert.equal(runs.length, 0, 'near peers connect within half the budget: HTTP waits for them')
  assert.equal(timers.fire(500), 1)
  const completeHeld = async (from: number) => {
    ms += 100 * (runs.length - from) // a piece takes 100 ms: the rate stays as measured
    for (const run of runs.slice(from)) {
      run.emit({ index: run.first, bytes: pieceOf(clipBytes, clip, run.first) })
      run.done.resolve()
    }
    await settle()
  }
  await settle()
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[0, 0], [1, 1], [2, 2]], 'the front, one small run each, three at most at once (the page\'s own requests need connections too)')
  await completeHeld(0)
  assert.deepEqual(runs.slice(3).map((run) => [run.first, run.last]), [[3, 3], [4, 4]], 'then on, up to the head\'s room')
  await completeHeld(3)
  assert.equal(runs.length, 5, 'the head is taken: HTTP waits for the agent')
  state.holdNothing = false // the agent connected to a peer that holds the whole page
  settled()
  await settle()
  assert.deepEqual([...requests.keys()].slice(0, 4), [5, 6, 7, 8].map((index) => `/media/held.webm:${index}`), 'peers from the first piece HTTP did not take')
  // Then both sources as usual (HTTP's share from the far end): every piece arrives once.
  let completed = 5
  while (delivered.length < all.length) {
    for (const [key, answer] of requests) answer.resolve(pieceOf(clipBytes, clip, Number(key.split(':')[1])))
    for (const run of runs.slice(completed)) {
      for (let index = run.first; index <= run.last; index++) run.emit({ index, bytes: pieceOf(clipBytes, clip, index) })
      run.done.resolve()
    }
    completed = runs.length
    await settle()
  }
  await finished
  assert.deepEqual(delivered.slice(0, 5), ['0:http', '1:http', '2:http', '3:http', '4:http'])
  assert.deepEqual(delivered.map((entry) => Number(entry.split(':')[0])).sort((a, b) => a - b), all)
})

test('a piece HTTP is already racing is not raced again when a piece asked before it goes late', async () => {
  const timers = manualTimers()
  const { peers, requests } = scriptedPeers()
  const { http, runs } = scriptedHttp()
  const finished = schedulePieces(withFastOrigin(schedulerDeps(peers, http, { setTimer: timers.setTimer })), asset, [0, 1, 2, 3], { deliver: () => undefined, fail: noFailure })
  await settle()
  // Piece 3 goes late first (its own deadline), then piece 2, which was asked before it.
  assert.equal(timers.fire(3000), 1)
  await settle()
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[3, 3]])
  assert.equal(timers.fire(2500), 1)
  await settle()
  assert.deepEqual(runs.map((run) => [run.first, run.last]), [[3, 3], [2, 2]], 'piece 3 is on the wire: not asked of the origin twice')
  for (const index of [0, 1]) requests.get(index)!.resolve(pieceOf(bytes, asset, index))
  for (const [i, index] of [[0, 3], [1, 2]]) {
    runs[i].emit({ index, bytes: pieceOf(bytes, asset, index) })
    runs[i].done.resolve()
  }
  await finished
})
