// Who delivers each missing piece of one batch (the asset fetcher's read-ahead window), and when.
//
// - Pieces some connected peer holds are pulled by peers, in reading order, with one pipeline for all
//   batches of the worker (what peers deliver in about the latency budget at their measured rate).
//   HTTP pulls too, from the other end, once peers have no room: its share of what is queued for them
//   (from its measured rate against theirs and `offloadBias`, source-split.ts), less what peers
//   deliver in the budget; from the front when no
//   peer works on this batch (the reader waits there). Both sources work until they meet. A piece
//   asked of peers that is later than the budget plus its expected time is fetched over HTTP too,
//   with every piece the batch asked of peers after it (first verified copy wins). A peer that stalls
//   or leaves makes the agent answer `unavailable` → HTTP at once. An HTTP run that stalls (the budget
//   plus a piece's time without a piece) has the rest of its pieces asked of the peers that hold them.
// - A piece no connected peer holds → HTTP at once, never a wait.
// - When this visitor has peers (P2P on), HTTP takes the missing pieces in small runs: its own share
//   of the crowd in reading order (core/crowd-share.ts; another member's pieces wait while that
//   member makes progress), re-checking availability when each run starts; while the crowd still
//   fetches a batch from the origin, no steals and no races. A crowd that arrives together fetches
//   *different* pieces from the origin and trades them.
//   Alone, HTTP takes them in order in large runs, spread over the slots (see spreadRunPieces). A batch
//   planned while the page's agent was still connecting switches to that once the agent has settled alone.
// - A run that failed on every webseed URL after its retries (a dead or stalled origin) ends HTTP for
//   the batch: no more runs hold slots against it; what only HTTP could give fails (the response
//   falls back to the network if it has sent nothing yet).
// Every piece is verified before it is delivered; a bad one is never delivered, stored or shared.

import type { ManifestAsset } from '../core/manifest-format.ts'
import { pieceSize } from '../core/piece-math.ts'
import { ownerOf, ownsPiece } from '../core/crowd-share.ts'
import type { SwConfig } from './config.ts'
import { SwError, toSwError } from './errors.ts'
import type { PeerPieces } from './peer-source-port.ts'
import type { PieceDelivery, SourceName } from './piece-source.ts'
import type { PieceVerdict, PieceVerifier } from './piece-verifier.ts'
import type { SchedulerTrace } from './scheduler-trace.ts'
import { createThroughputMeter, type ThroughputMeter } from './throughput-meter.ts'
import { httpShare } from './source-split.ts'
import { once } from './once.ts'
import type { SlotLimiter } from './http-slots.ts'

export interface HttpRuns {
  /** Fetches pieces first..last in one request (with retries); emits each piece as it completes. */
  fetchRun(asset: ManifestAsset, first: number, last: number, emit: (piece: PieceDelivery) => void, signal: AbortSignal): Promise<void>
}

export type SchedulerConfig = Pick<SwConfig, 'peerBudgetMs' | 'offloadBias' | 'peerAssumedBytesPerSec' | 'webseedMaxRunBytes' | 'webseedCrowdRunBytes'>

/** Shared by every batch of one SW: how fast peers deliver, and what they have been asked. */
/** A batch under way, as the other batches of the worker see it. */
export interface BatchUnderWay {
  /** Plans its next requests (another batch's peer request ended and freed room). */
  pump(): void
  /** Whether some piece of it is held by nobody connected (see crowdFetching). */
  unheld(): boolean
}

export interface SchedulerClock {
  peers: ThroughputMeter
  /** How fast HTTP runs deliver (aggregate while any is busy): sets HTTP's share of what peers could also give. */
  http: ThroughputMeter
  /**
   * Bytes of piece requests open at peers across every batch. The peers' pipeline is one for the whole
   * service worker: the agents serve every batch's requests, so a pipeline per batch asked one peer for
   * six assets' worth at once (measured on the emulated internet: 7 MB queued at a 1.2 MB/s peer; the
   * overdue races fired seconds late and HTTP sat idle meanwhile). A piece's expected time is its
   * place among all of them at the measured rate.
   */
  peerBytesOpen: number
  /** HTTP runs fetching a batch's head while its hold lasts, across every batch (at most MAX_HELD_HEAD_RUNS). */
  heldHeadRuns: number
  /** Batches under way: each is pumped when a peer request ends, so another batch's pieces may take the freed room. */
  batches: Set<BatchUnderWay>
  /**
   * In a crowd: how many of each member's pieces (by rank, core/crowd-share.ts) the batches have seen
   * become available from peers. A member whose count moves is fetching its share from the origin:
   * its other pieces are worth waiting for.
   */
  crowdProgress: Map<number, number>
  /** Diagnostics: piece requests asked of peers, delivered by them, failed (unavailable), and raced over HTTP as late. */
  counts: SchedulerCounts
  /** Diagnostics: batches, holds and runs as they happen. */
  trace?: SchedulerTrace
}

export interface SchedulerCounts {
  asked: number
  delivered: number
  failed: number
  overdue: number
  /** HTTP runs that went a piece's time past the budget without a piece, whose pieces were then asked of peers too. */
  stalledRuns: number
}

export function createSchedulerClock(now: () => number = Date.now): SchedulerClock {
  return { peers: createThroughputMeter(now), http: createThroughputMeter(now), peerBytesOpen: 0, heldHeadRuns: 0, batches: new Set(), crowdProgress: new Map(), counts: { asked: 0, delivered: 0, failed: 0, overdue: 0, stalledRuns: 0 } }
}

/** How many times faster than the peers HTTP must be measured for a late piece to bring those behind it. */
const CASCADE_HTTP_ADVANTAGE = 2

/**
 * Most HTTP runs at once while holds last: half the browser's six connections to an HTTP/1.1 origin,
 * so the page's own requests, the agent's script first, are not queued behind them (measured on the
 * emulated internet with all six taken: the agent's tracker socket opened 0.2-1.3 s later, and the
 * first peer came with it).
 */
const MAX_HELD_HEAD_RUNS = 3

/**
 * How many times faster than the peers HTTP must be measured for a crowd's origin to count as not
 * congested (see crowdFetching). Measured in bench:net crowds of 8 (peers 0.15-0.3 MB/s each on
 * 2 cores): HTTP gave each visitor 0.3-0.5 MB/s at a 20 Mbit/s origin, about 3 MB/s at 200 Mbit/s.
 */
const CROWD_HTTP_ADVANTAGE = 4

/** Smallest run a batch's HTTP work is spread into (spreadRunPieces): each request costs the connection a round trip. */
const SPREAD_RUN_MIN_BYTES = 1024 * 1024

/** Fewest pieces asked of peers at once, whatever their measured rate. */
const MIN_PEER_PIPELINE = 4

/**
 * Largest race of late peer pieces (steals: STEAL_RUN_BYTES), whatever webseedMaxRunBytes says for a
 * visitor alone. 16 MiB runs (races and steals) together with 16 MiB windows cut the congested
 * origin's offload (emulated internet, visitors 3-4: 45-57% from peers, against 50-61% with 4 MiB).
 */
const MAX_PEER_RUN_BYTES = 4 * 1024 * 1024

/**
 * Largest steal, whatever the rates. HTTP's share (1 - p/h) swings with every change in the peers'
 * rate where the two are close, and peers that have just connected speed up for seconds (more of
 * them, flow windows opening). At a congested origin (bench:net, visitors 3-4), the first steal,
 * decided 0.3 s after the first connection on an assumed rate, took 4 MiB of the film and ran 3.5 s;
 * with the peers measured, steals of 1.0-3.8 MB decided at 0.8-1.0 MB/s ran 1.8-3.4 s, while the
 * peers gave 2.3 MB/s on average. Small steals are decided again sooner, with the rate measured since.
 * (Tried: steals of up to MAX_PEER_RUN_BYTES where HTTP was measured at least twice as fast as the
 * peers. Peers ramping up are measured that slow, and visitor 4 got 36-47% of the page from peers.)
 */
const STEAL_RUN_BYTES = 1024 * 1024

export interface SchedulerDeps {
  peers: PeerPieces | null
  http: HttpRuns
  httpSlots: SlotLimiter
  verify: PieceVerifier
  config: SchedulerConfig
  clock: SchedulerClock
  now?: () => number
  random?: () => number
  setTimer?: (callback: () => void, ms: number) => () => void
  onRejected?: (asset: ManifestAsset, index: number, source: SourceName, verdict: PieceVerdict) => void
}

export interface BatchCallbacks {
  deliver(index: number, bytes: Uint8Array, source: SourceName): void
  fail(index: number, error: SwError): void
  /** Which source is working on a piece now (for the response's plan). */
  assigned?(index: number, source: SourceName): void
}

type PieceState = 'queued' | 'peer' | 'http' | 'done'

const defaultSetTimer = (callback: () => void, ms: number) => {
  const timer = setTimeout(callback, ms)
  return () => clearTimeout(timer)
}

/** Delivers (or fails) every index; resolves when each one is settled. */
export function schedulePieces(deps: SchedulerDeps, asset: ManifestAsset, indexes: number[], callbacks: BatchCallbacks, clientId?: string): Promise<void> {
  // Before anything subscribes: a listener left behind by an empty batch would keep its callbacks, and
  // with them every piece of the batch, alive for good (measured: a 256 MiB store read held 256 MB).
  if (indexes.length === 0) return Promise.resolve()
  const { peers, config } = deps
  const random = deps.random ?? Math.random
  const setTimer = deps.setTimer ?? defaultSetTimer
  // This batch as the worker's other batches see it (both functions are declared below).
  const underWay: BatchUnderWay = { pump, unheld: batchUnheld }
  const { clock } = deps
  const trace = (event: string, first?: number, last?: number) => clock.trace?.add(event, asset.path, first, last)
  const state = new Map<number, PieceState>(indexes.map((index) => [index, 'queued']))
  /** Pieces whose peer request ran past its deadline: HTTP may fetch them too. */
  const overdue = new Set<number>()
  const triedPeers = new Set<number>()
  /** Pieces an HTTP run under way is fetching: never asked of the origin again meanwhile. */
  const onHttp = new Set<number>()
  /** Pieces peers held that HTTP took from the far end (runs under way). */
  const stolen = new Set<number>()
  const peerRequests = new Map<number, { cancel(): void; cancelTimer(): void; endMeasure(): void }>()
  const crowd = peers?.crowd(clientId) ?? false
  // Crowd order, for what is anyone's to fetch (this page's share of the crowd unknown yet, or another
  // member's pieces released): the reader's next run first (it is needed now), then from somewhere
  // random, so visitors arriving together fetch different pieces from the origin.
  const sorted = [...indexes].sort((a, b) => a - b)
  /** Pieces in one of the crowd's small runs: also the blocks a crowd's shares are made of. */
  const blockPieces = Math.max(1, Math.floor(config.webseedCrowdRunBytes / asset.pieceLength))
  const head = crowd ? Math.min(sorted.length, blockPieces) : sorted.length
  const rest = sorted.slice(head)
  const offset = Math.floor(random() * rest.length)
  const order = [...sorted.slice(0, head), ...rest.slice(offset), ...rest.slice(0, offset)]
  /**
   * In a crowd, pieces another member owns (core/crowd-share.ts) are left to it while it makes
   * progress: it fetches them from the origin and they arrive from it as a peer. This page's own
   * share goes to HTTP at once (the reader's next run too, while the share is not known yet).
   * Another member's pieces go to HTTP only once this page's own share of the batch is under way and
   * that member made none of its pieces available for a whole budget (it left, or is stuck). At a
   * congested origin a member needs several budgets for its share, and a page that took the others'
   * pieces after one budget (as before) fetched from the origin what the crowd was already fetching,
   * slowing every member's share.
   */
  const releasedOwners = new Set<number>()
  /** Pieces of this batch already counted in clock.crowdProgress. */
  const seenAvailable = new Set<number>()
  let progressAtCheck = new Map(clock.crowdProgress)
  let cancelRelease = crowd ? setTimer(checkOwners, config.peerBudgetMs) : () => undefined
  const controller = new AbortController()
  let remaining = indexes.length
  let waitingForSlot = false
  let lastError: SwError | undefined
  /**
   * A run failed on every webseed URL after its retries (a dead or stalled origin): the batch starts
   * no more HTTP runs, which would fail the same way while holding slots other responses need.
   * Runs under way finish; pieces only HTTP could give fail at once (peers keep theirs).
   */
  let httpGaveUp = false
  let finish!: () => void
  const finished = new Promise<void>((resolve) => (finish = resolve))
  // A page that has just navigated, or whose agent is still connecting, is about to learn what its
  // peers hold: HTTP waits for that, within the latency budget, except for the reader's head (see
  // holdHeadRoom).
  let holdHttp = peers?.holds(clientId) ?? false
  /** Bytes HTTP took from the front of this batch while the hold lasted. */
  let heldHeadBytes = 0
  /** Whether the hold has lasted half the budget: peers are not near (see holdHeadRoom). */
  let holdHalfGone = false
  const cancelHold = holdHttp ? setTimer(() => (trace('hold timed out'), (holdHttp = false), pump()), config.peerBudgetMs) : () => undefined
  const cancelHalfHold = holdHttp ? setTimer(() => ((holdHalfGone = true), pump()), config.peerBudgetMs / 2) : () => undefined
  const unsubscribe =
    peers?.onAvailable((infoHash) => {
      if (infoHash === null && holdHttp && !peers.holds(clientId)) {
        trace('hold released')
        holdHttp = false
        cancelHold()
        pump()
      } else if (infoHash === asset.infoHash) {
        noteCrowdProgress()
        pump()
      }
    }) ?? (() => undefined)

  /** Counts the pieces of this batch newly available from peers towards their owners' progress. */
  function noteCrowdProgress(): void {
    const share = crowd ? (peers?.share(clientId) ?? null) : null
    if (!share) return
    for (const index of sorted) {
      if (seenAvailable.has(index) || state.get(index) === 'done' || !peers!.has(asset.infoHash, index, clientId)) continue
      seenAvailable.add(index)
      const owner = ownerOf(share, asset.infoHash, index, blockPieces)
      clock.crowdProgress.set(owner, (clock.crowdProgress.get(owner) ?? 0) + 1)
    }
  }

  /** Every budget: releases to HTTP the pieces of members that made no progress since the last check (see releasedOwners). */
  function checkOwners(): void {
    if (remaining === 0) return
    const share = peers?.share(clientId) ?? null
    const ownWorkLeft = sorted.some((index) => state.get(index) === 'queued' && !peerable(index) && mine(index))
    if (share && !ownWorkLeft) {
      for (let rank = 0; rank < share.of; rank++) {
        if ((clock.crowdProgress.get(rank) ?? 0) === (progressAtCheck.get(rank) ?? 0)) releasedOwners.add(rank)
      }
    }
    progressAtCheck = new Map(clock.crowdProgress)
    cancelRelease = setTimer(checkOwners, config.peerBudgetMs)
    pump()
  }

  /** Whether HTTP may take another member's piece that nobody holds (always, outside a crowd). */
  function othersReleased(index: number): boolean {
    if (!crowd || triedPeers.has(index)) return true
    const share = peers?.share(clientId) ?? null
    return !share || releasedOwners.has(ownerOf(share, asset.infoHash, index, blockPieces))
  }

  function settle(index: number): boolean {
    if (state.get(index) === 'done') return false
    state.set(index, 'done')
    overdue.delete(index)
    const request = peerRequests.get(index)
    peerRequests.delete(index)
    request?.cancelTimer()
    request?.endMeasure()
    request?.cancel()
    if (--remaining === 0) {
      clock.batches.delete(underWay)
      unsubscribe()
      cancelHold()
      cancelHalfHold()
      cancelRelease()
      controller.abort()
      finish()
    }
    return true
  }

  async function accept(index: number, bytes: Uint8Array, source: SourceName): Promise<boolean> {
    if (state.get(index) === 'done') return true
    const verdict = await deps.verify(asset, index, bytes)
    if (source === 'peers') peers?.verdict(asset, index, verdict.ok)
    if (!verdict.ok) {
      deps.onRejected?.(asset, index, source, verdict)
      lastError = new SwError(verdict.code, `${source} sent a bad piece ${index} of ${asset.path}`)
      return false
    }
    if (settle(index)) callbacks.deliver(index, bytes, source)
    return true
  }

  function peerable(index: number): boolean {
    return !!peers && !triedPeers.has(index) && peers.has(asset.infoHash, index, clientId)
  }

  /** Bytes all batches together may have asked of peers: what they deliver in about the budget, at least a few pieces. */
  function peerPipelineBytes(): number {
    const rate = clock.peers.rate(config.peerAssumedBytesPerSec)
    return Math.max(MIN_PEER_PIPELINE * asset.pieceLength, (rate * config.peerBudgetMs) / 1000)
  }

  function startPeer(index: number): void {
    triedPeers.add(index)
    state.set(index, 'peer')
    callbacks.assigned?.(index, 'peers')
    const request = peers!.request(asset, index, clientId)
    clock.counts.asked++
    const stopMeasure = clock.peers.begin()
    const size = pieceSize(index, asset.length, asset.pieceLength)
    const ahead = (clock.peerBytesOpen += size)
    const endMeasure = once(() => {
      clock.peerBytesOpen -= size
      stopMeasure()
      wakeBatches(clock) // room at the peers: any batch may take it
    })
    const expectedMs = (ahead / clock.peers.rate(config.peerAssumedBytesPerSec)) * 1000
    const cancelTimer = setTimer(() => {
      if (state.get(index) !== 'peer') return
      // Late by the budget, and what this batch asked of peers after it is later still: HTTP races them
      // all at once, in runs (the peer may still win each). Raced one by one at their own deadlines,
      // they made a tail of one-piece requests a piece's time apart (measured on the emulated internet,
      // fast origin: 2 s of 64 KiB requests after everything else).
      // Only where the origin is much faster than the peers: in a crowd at a congested origin the
      // races would take the origin from pieces nobody holds (measured, crowd of 8 at 20 Mbit/s:
      // 8.03 copies of the page from the origin, against 7.49-7.93 without).
      const behindToo = httpFasterThanPeers(CASCADE_HTTP_ADVANTAGE)
      if (crowdFetching()) return // the peer keeps it (the agent fails it if it stalls)
      let after = false
      for (const asked of behindToo ? peerRequests.keys() : [index]) {
        after ||= asked === index
        if (!after || state.get(asked) !== 'peer' || overdue.has(asked) || onHttp.has(asked)) continue // on the wire already
        clock.counts.overdue++
        overdue.add(asked)
      }
      pump()
    }, config.peerBudgetMs + expectedMs)
    peerRequests.set(index, { cancel: request.cancel, cancelTimer, endMeasure })
    const done = () => {
      peerRequests.delete(index)
      cancelTimer()
      endMeasure()
    }
    request.promise.then(
      async (bytes) => {
        if (state.get(index) === 'done') return
        clock.counts.delivered++
        clock.peers.add(bytes.length)
        done()
        if (!(await accept(index, bytes, 'peers'))) requeue(index)
        else pump() // a slot in the pipeline is free
      },
      () => {
        clock.counts.failed++
        done()
        requeue(index)
      },
    )
  }

  function requeue(index: number): void {
    if (state.get(index) !== 'peer') return
    // A late piece HTTP is racing: the run has it on the wire; asking again would fetch it twice.
    state.set(index, onHttp.has(index) ? 'http' : 'queued')
    pump()
  }

  /** Whether this page fetches the piece from the origin itself when nobody holds it (always, outside a crowd). */
  function mine(index: number): boolean {
    const share = peers?.share(clientId) ?? null
    return !share || ownsPiece(share, asset.infoHash, index, blockPieces)
  }

  /** Pieces HTTP should take first: queued ones no peer can give (another member's, once released), and overdue peer ones. */
  function httpFirst(index: number): boolean {
    const s = state.get(index)
    return (s === 'queued' && !peerable(index) && (mine(index) || othersReleased(index))) || (s === 'peer' && overdue.has(index))
  }

  /**
   * Whether the crowd is still fetching from a congested origin: the crowd is split, HTTP is not
   * measured far faster than the peers, and some piece of any batch of this worker is held by nobody
   * connected. The origin is then the crowd's bottleneck, and what HTTP takes that a peer holds or is
   * sending (a steal, a race) is taken from the members fetching their shares (measured, bench:net
   * crowd of 8 at 20 Mbit/s, three runs each: 5.0-5.3 copies of the page from the origin without
   * them, 5.7-5.9 with). Any batch, not only this one: a batch whose pieces were all held stole while
   * the page's other assets were still being fetched (six pairs: 5.13 copies and 44.4 s on average
   * with every batch counted, 5.35 and 45.9 s with this batch's alone). Visitors who find the page
   * held (one after another) steal and race as usual.
   */
  function crowdFetching(): boolean {
    if (!peers?.share(clientId) || httpFasterThanPeers(CROWD_HTTP_ADVANTAGE)) return false
    for (const batch of clock.batches) if (batch.unheld()) return true
    return false
  }

  /** Whether some piece of this batch is held by nobody connected. */
  function batchUnheld(): boolean {
    return !!peers && sorted.some((index) => state.get(index) !== 'done' && !peers.has(asset.infoHash, index, clientId))
  }

  /** Whether HTTP is measured at least `times` as fast as the peers (the assumed rate for either not measured yet). */
  function httpFasterThanPeers(times: number): boolean {
    const assumed = config.peerAssumedBytesPerSec
    return clock.http.rate(assumed) >= times * clock.peers.rate(assumed)
  }

  /**
   * The peers' rate for HTTP's split: their last second where they have sped up since (more of them
   * connected, flow windows opened), which is what they keep for seconds.
   */
  function peerRateNow(): number {
    const assumed = config.peerAssumedBytesPerSec
    return Math.max(clock.peers.rate(assumed), clock.peers.recentRate(assumed))
  }

  /** Whether peers are working on a piece of this batch now. */
  function peersOnBatch(): boolean {
    return sorted.some((index) => state.get(index) === 'peer')
  }

  /**
   * Pieces HTTP may take from the far end when it has nothing better: once peers have no room, HTTP's
   * share (its measured rate against the peers', moved towards offload by `offloadBias`: peers keep
   * what they deliver before HTTP alone would have finished) of what is queued for them, counting what HTTP
   * already took from peers this way. Where the origin is fast, both sources meet in the middle; where
   * it is congested (a crowd), HTTP takes little that peers can give, so the origin serves what nobody
   * holds.
   */
  function stealable(): Set<number> {
    if (clock.peerBytesOpen < peerPipelineBytes() || crowdFetching()) return new Set()
    const httpRate = clock.http.rate(config.peerAssumedBytesPerSec)
    const peerRate = peerRateNow()
    const queued = sorted.filter((index) => state.get(index) === 'queued')
    // HTTP's split (source-split.ts), less what lets peers end up to the budget later: peers may be
    // slower than the origin by the budget. This batch's part of the peers' measured rate (all batches
    // share it; none before any is measured: a peer that trickles must not be trusted with a batch).
    const bytes = (queued.length + stolen.size) * asset.pieceLength
    const slack = (clock.peers.rate(0) / Math.max(1, clock.batches.size)) * (config.peerBudgetMs / 1000) / bytes
    const share = Math.max(0, httpShare(httpRate, peerRate, config.offloadBias) - slack) || 0
    const count = Math.ceil((queued.length + stolen.size) * share) - stolen.size
    if (count <= 0) return new Set()
    // Peers busy with other batches only: the reader of this one would wait for its head until they
    // came round to it (measured on loopback with a trickling peer: each photo's first byte waited
    // for HTTP to work back from the far end), so HTTP takes its share from the front.
    return new Set(peersOnBatch() ? queued.slice(-count) : queued.slice(0, count))
  }

  /**
   * A hold that has lasted half the budget lets HTTP fetch the batch's front, in small runs from the
   * reader's next piece on: this batch's part of what the origin delivers in the other half at its
   * measured rate (one small run before any is measured). The visitor's link works while its agent
   * connects, instead of sitting idle for the rest of the budget (measured on the emulated internet,
   * fast origin: the hold ran its full 1000 ms for most visitors with peers, whose first connection
   * opened 1.0-1.3 s after navigation). Not sooner: near peers (loopback, a LAN) connect within
   * a few hundred ms and can give the whole page (tried from the hold's start: on loopback a second
   * visitor of a 10 MB gallery then took 2.4-4.3 MB of it from the origin). Where the origin is
   * congested, its measured rate is low and so is the head: peers still get the rest.
   */
  function holdHeadRoom(): number {
    const perBatch = (clock.http.rate(0) * config.peerBudgetMs) / 2 / 1000 / Math.max(1, clock.batches.size)
    return Math.max(config.webseedCrowdRunBytes, perBatch) - heldHeadBytes
  }

  /** The piece a run during the hold starts at: the reader's next queued piece, if nobody connected holds it and there is room. */
  function holdHeadStart(): number | undefined {
    if (!holdHalfGone || clock.heldHeadRuns >= MAX_HELD_HEAD_RUNS || holdHeadRoom() <= 0) return undefined
    const first = sorted.find((index) => state.get(index) === 'queued')
    return first !== undefined && !peerable(first) ? first : undefined
  }

  /**
   * How long an HTTP run may go without a piece before the peers are asked for the rest of it: the
   * budget plus a piece's time at its part of HTTP's measured rate. The mirror of a late peer piece.
   * Chromium sometimes starves one of its connections to an origin: on the emulated internet's fast
   * origin a 1 MiB run the origin had written in 60 ms took 8.4 s to arrive, while the visitor's three
   * peers held every piece of it, and the page loaded in 9.4 s against 5.0-5.5 s.
   */
  function runStallMs(): number {
    // The runs on the wire share HTTP's measured rate; each is one transfer of the meter.
    const perRun = clock.http.rate(config.peerAssumedBytesPerSec) / Math.max(1, clock.http.transfers())
    return config.peerBudgetMs + (asset.pieceLength / perRun) * 1000
  }

  /** Asks peers for the pieces of a stalled run they hold (the run goes on: the first verified copy wins). */
  function raceStalledRun(run: number[]): void {
    const toPeers = run.filter((index) => state.get(index) === 'http' && peerable(index))
    if (toPeers.length === 0) return
    clock.counts.stalledRuns++
    trace('run stalled, to peers', toPeers[0], toPeers[toPeers.length - 1])
    for (const index of toPeers) startPeer(index)
  }

  function pump(): void {
    if (remaining === 0) return
    if (httpGaveUp) {
      for (const index of sorted) {
        if (state.get(index) === 'queued' && !peerable(index) && settle(index)) {
          callbacks.fail(index, lastError ?? new SwError('no-source', `no source for piece ${index} of ${asset.path}`))
        }
      }
      if (remaining === 0) return
    }
    // Peers in reading order while they have room; HTTP from the crowd order, then from the far end.
    const pipelineBytes = peerPipelineBytes()
    for (const index of sorted) {
      if (clock.peerBytesOpen >= pipelineBytes) break
      if (state.get(index) === 'queued' && peerable(index)) startPeer(index)
    }
    const httpWork = holdHttp ? holdHeadStart() !== undefined : sorted.some(httpFirst) || stealable().size > 0
    if (!waitingForSlot && !httpGaveUp && httpWork) {
      waitingForSlot = true
      trace('waits for a slot')
      void deps.httpSlots.acquire(asset.infoHash, remaining * asset.pieceLength).then(startRun)
    }
  }

  /** Whole pieces in a run of this many bytes (at least one). */
  const piecesIn = (runBytes: number) => Math.max(1, Math.floor(Math.max(asset.pieceLength, runBytes) / asset.pieceLength))

  /**
   * Most pieces in a run outside a crowd: a slot's part of the batch's HTTP work left (at least
   * SPREAD_RUN_MIN_BYTES, at most webseedMaxRunBytes), so a large asset's last megabytes come over
   * several connections at once, not one. One connection left alone at the end takes long to grow
   * into the link the others leave: on the emulated internet (fast origin, a visitor alone) the
   * film's last 7 MB ran alone at 8-26 Mbit/s of the visitor's 40 for up to 1.7 s. Against a cubic
   * origin this took a visitor alone from 4.97-6.09 s to 4.41-4.75 s (plain HTTP 5.5-6.0 s); against
   * a BBR origin, no change beyond the noise (docs/service-worker.md).
   */
  function spreadRunPieces(): number {
    const perSlot = (sorted.filter(httpFirst).length * asset.pieceLength) / deps.httpSlots.size
    return piecesIn(Math.min(config.webseedMaxRunBytes, Math.max(SPREAD_RUN_MIN_BYTES, perSlot)))
  }

  /** Holding an HTTP slot: picks the run now, with what is known now. */
  function startRun(release: () => void): void {
    waitingForSlot = false
    // Still a crowd? A page that was connecting when the batch was planned may have found nobody.
    const crowdRun = crowd && (peers?.crowd(clientId) ?? false)
    const candidates = crowdRun ? order : sorted
    const held = holdHttp
    const share = peers?.share(clientId) ?? null
    // This page's own share first: in reading order where the crowd is split (the other members'
    // readers want it in that order too), else from the crowd order. Then what is left to anyone.
    const ownOrder = crowdRun && share ? sorted : candidates
    let first: number | undefined = held ? holdHeadStart() : (ownOrder.find((index) => httpFirst(index) && mine(index)) ?? candidates.find(httpFirst))
    let last = first ?? -1
    const steal = first === undefined && !held ? stealable() : new Set<number>()
    /** Bytes of a held head run. */
    let headBytes = 0
    if (held && first !== undefined) {
      // The front, up to one small run and the head's room.
      headBytes = pieceSize(first, asset.length, asset.pieceLength)
      const room = Math.min(config.webseedCrowdRunBytes, holdHeadRoom())
      while (state.get(last + 1) === 'queued' && !peerable(last + 1) && headBytes + pieceSize(last + 1, asset.length, asset.pieceLength) <= room) {
        last++
        headBytes += pieceSize(last, asset.length, asset.pieceLength)
      }
    } else if (first !== undefined) {
      // Small runs spread a crowd's origin fetches of what nobody holds; late peer pieces are held, and
      // are raced in larger runs (what peers could give); a visitor alone takes its slot's part of what
      // is left (spreadRunPieces).
      const maxPieces = overdue.has(first)
        ? piecesIn(Math.min(config.webseedMaxRunBytes, MAX_PEER_RUN_BYTES))
        : crowdRun ? piecesIn(config.webseedCrowdRunBytes) : spreadRunPieces()
      while (state.has(last + 1) && httpFirst(last + 1) && last + 2 - first <= maxPieces) last++
    } else if (steal.size > 0) {
      // Nothing only HTTP can give: take HTTP's share (from the end peers reach last, so the two meet
      // in the middle, or from the front when peers are not on this batch at all). Pieces someone
      // holds need not be spread across a crowd.
      // Small runs: the split is decided again soon, with what was measured since (see STEAL_RUN_BYTES).
      const fromFront = !peersOnBatch()
      const stealPieces = piecesIn(Math.min(config.webseedMaxRunBytes, STEAL_RUN_BYTES))
      const taken = sorted.filter((index) => steal.has(index))
      first = last = fromFront ? taken[0]! : taken[taken.length - 1]!
      if (fromFront) while (steal.has(last + 1) && last - first + 2 <= stealPieces) last++
      else while (steal.has(first - 1) && last - first + 2 <= stealPieces) first--
    }
    if (first === undefined || last < 0 || remaining === 0 || httpGaveUp) {
      release()
      if (httpGaveUp) pump() // fails what only HTTP could give
      return
    }
    if (held) {
      // Counted only for a run that starts: its end gives the worker's place back.
      heldHeadBytes += headBytes
      clock.heldHeadRuns++
    }
    const run: number[] = []
    const wasOverdue = overdue.has(first)
    for (let index = first; index <= last; index++) {
      if (state.get(index) === 'queued') state.set(index, 'http')
      overdue.delete(index) // taken: the next run must not take it again
      onHttp.add(index)
      if (steal.has(index)) stolen.add(index)
      callbacks.assigned?.(index, 'http')
      run.push(index)
    }
    const endMeasure = clock.http.begin()
    // Re-armed by every piece of the run; when it fires, peers are asked for what they hold of the
    // rest (a visitor without peers arms none).
    let cancelStall = () => {}
    const armStall = () => {
      if (!peers) return
      cancelStall()
      cancelStall = setTimer(() => raceStalledRun(run), runStallMs())
    }
    armStall()
    // Why this run: what the trace tells apart when origin bytes are counted.
    const why = held ? 'held head' : steal.size > 0 ? 'steal' : wasOverdue ? 'late' : triedPeers.has(first) ? 'peer failed' : !share ? 'any' : mine(first) ? 'own share' : 'released'
    trace(`run, ${why}`, first, last)
    pump() // more HTTP-able pieces: queue for the next slot at once
    const verifying: Promise<unknown>[] = []
    deps.http
      .fetchRun(
        asset,
        first,
        last,
        (piece) => {
          // The origin's rate sets HTTP's share: a piece from the browser's HTTP cache says nothing of it.
          if (!piece.cached) clock.http.add(piece.bytes.length)
          armStall()
          verifying.push(accept(piece.index, piece.bytes, 'http'))
        },
        controller.signal,
      )
      .catch((error) => {
        const failure = toSwError(error)
        if (failure.code === 'aborted' || remaining === 0) return
        lastError = failure
        httpGaveUp = true
      })
      .then(() => Promise.all(verifying)) // a piece still being hashed is not missing
      .finally(() => {
        trace('run ended', first, last)
        release()
        endMeasure()
        cancelStall()
        if (held) {
          clock.heldHeadRuns--
          wakeBatches(clock) // room for another batch's head
        }
        // Pieces of the run that did not arrive (error, or a bad piece): peers may still have them.
        for (const index of run) {
          onHttp.delete(index)
          stolen.delete(index)
          if (state.get(index) === 'done') continue
          if (peerable(index)) {
            state.set(index, 'queued')
            continue
          }
          if (state.get(index) === 'peer') continue // the peer request is still going
          if (settle(index)) callbacks.fail(index, lastError ?? new SwError('no-source', `no source for piece ${index} of ${asset.path}`))
        }
        pump()
      })
  }

  clock.batches.add(underWay)
  trace(holdHttp ? 'batch, held' : 'batch', sorted[0], sorted[sorted.length - 1])
  pump()
  return finished
}

/** Pumps every batch under way, once the current task is done (never from inside another batch's pump). */
function wakeBatches(clock: SchedulerClock): void {
  queueMicrotask(() => {
    for (const batch of [...clock.batches]) batch.pump()
  })
}
