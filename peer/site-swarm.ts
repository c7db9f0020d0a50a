// One site, one swarm: the WebRTC connections of this visitor (or the seeder) to other visitors of the
// same site, each carrying every asset (peer-wire.ts). Bounded by maxPeers whatever the number of
// assets. It knows which connected peer holds which piece, fetches a piece from the peer likely to
// deliver it first, takes a request away from a peer that stalls (by measured progress, not a fixed
// wait for the whole piece), serves what this side holds under an upload rate limit, and drops peers
// the service worker caught sending bad pieces. Used by the page agent and by the Node seeder alike.

import { pieceCount, pieceSize } from '../core/piece-math.ts'
import { crowdShareOf } from '../core/crowd-share.ts'
import type { CrowdShare } from '../core/agent-protocol.ts'
import { createPeerLink, type CandidatePair, type PeerLink } from './peer-link.ts'
import {
  CHUNK_BYTES,
  FLOW_CONTROL_VERSION,
  INITIAL_CREDIT_BYTES,
  MAX_CHUNK_BYTES,
  WIRE_VERSION,
  decodeBitfield,
  decodeChunk,
  decodeControl,
  encodeBitfield,
  encodeChunk,
  encodeControl,
  randomHex,
  type ControlMessage,
  type HaveMap,
} from './peer-wire.ts'
import { createTrackerClient, type TrackerClient } from './tracker-client.ts'
import { createUploadLimiter } from './upload-limiter.ts'
import { createFlowWindow, type FlowWindow } from './flow-window.ts'
import { createSendCredit, type SendCredit } from './send-credit.ts'
import { isStalled } from './stall-rule.ts'
import { createActiveClock } from './active-clock.ts'

export interface SwarmAsset {
  infoHash: string
  length: number
  pieceLength: number
}

export interface SiteSwarmConfig {
  /** Open WebRTC connections at most, all assets together. Default 8 (visitors); the seeder sets more. */
  maxPeers: number
  /** Upload cap, bytes/s across all connections; -1 for none. */
  maxUploadBytesPerSec: number
  /** Pieces asked of one peer at once. Default 6: enough to fill a 10 Mbit/s, 100 ms path with 64 KiB pieces. */
  maxRequestsPerPeer: number
  /** A request with no byte for this long moves to another peer (or fails). Default 1500 ms. */
  stallMs: number
  /** Bad pieces a peer may send before it is dropped and refused. Default 2. */
  maxBadPiecesPerPeer: number
  iceServers: RTCIceServer[]
}

export const SITE_SWARM_DEFAULTS: Readonly<Omit<SiteSwarmConfig, 'iceServers'>> = Object.freeze({
  maxPeers: 8,
  maxUploadBytesPerSec: 4 * 1024 * 1024,
  maxRequestsPerPeer: 6,
  stallMs: 1500,
  maxBadPiecesPerPeer: 2,
})

export interface SiteSwarmDeps {
  swarmId: string
  trackers: string[]
  config: SiteSwarmConfig
  /** A seeder makes no offers (browsers offer to it) and counts as complete at the tracker. */
  seeder?: boolean
  RTCPeerConnection: typeof RTCPeerConnection
  WebSocket: typeof WebSocket
  /** Bytes of a piece this side holds (verified when it was stored), or undefined. */
  readPiece(infoHash: string, index: number): Promise<Uint8Array | undefined>
  /** Called when the set of pieces available from connected peers changes. */
  onAvailability?(infoHash: string, indexes: number[], available: boolean): void
  onPeers?(count: number): void
  /**
   * Settling: connecting to the peers the tracker knows of. Ends once this side has a hello from as
   * many peers as the swarm holds (up to maxPeers), when the tracker says nobody else is here, or
   * after a few seconds whatever happens.
   */
  onSettling?(settling: boolean): void
  onWarning?(message: string): void
  peerId?: string
  now?: () => number
}

export interface PieceResult {
  bytes: Uint8Array
  peerId: string
}

export type FetchFailure = 'unavailable' | 'stalled' | 'cancelled' | 'closed'

export class FetchError extends Error {
  constructor(readonly code: FetchFailure) {
    super(code)
    this.name = 'FetchError'
  }
}

export interface PieceFetch {
  promise: Promise<PieceResult>
  cancel(): void
}

export interface PeerInfo {
  peerId: string
  downloadBytesPerSec: number
  uploadedBytes: number
  downloadedBytes: number
  /** Credit window we give this peer (bytes in flight towards us), and the one-way delay floor seen. */
  windowBytes: number
  baseDelayMs: number | null
}

/** What happened to this side's piece requests (for diagnosis: where peer delivery time goes). */
export interface TransferCounters {
  /** Requests sent to peers. */
  requests: number
  /** Requests taken back by the stall rule. */
  stalls: number
  /**
   * Of those (diagnostics: why requests stall): with part of the piece received; still behind others
   * at that peer; while the peer was sending us other chunks within the stall time.
   */
  stallsAfterBytes: number
  stallsWhileQueued: number
  stallsPeerActive: number
  /** Requests a peer rejected. */
  rejects: number
  /** Requests cancelled by the caller (the SW got the piece elsewhere, or no longer needs it). */
  cancels: number
  /** Most requests open at one peer at once. */
  maxOpenPerPeer: number
  /**
   * Serving side, summed over the pieces this page sent (diagnostics: where a peer's request waits):
   * pieces served, ms queued behind others, ms waiting for the store read, and ms waiting for the
   * receiver's credit, the upload limit and the channel buffer.
   */
  served: number
  servedQueuedMs: number
  servedReadMs: number
  servedCreditWaitMs: number
  servedUploadWaitMs: number
  servedDrainWaitMs: number
}

export interface SiteSwarmStats {
  peers: number
  uploadedBytes: number
  downloadedBytes: number
  bannedPeers: number
  transfers: TransferCounters
}

export interface SiteSwarm {
  readonly peerId: string
  settling(): boolean
  setAssets(assets: SwarmAsset[]): void
  /** This side now holds these pieces (told to every peer at once). */
  addHave(infoHash: string, indexes: number[]): void
  /** Whether some connected peer holds the piece. */
  available(infoHash: string, index: number): boolean
  availableIndexes(infoHash: string): number[]
  fetchPiece(infoHash: string, index: number): PieceFetch
  /** A piece a peer sent failed verification: count it against that peer; drop it past the limit. */
  reportBadPiece(peerId: string): void
  peers(): PeerInfo[]
  /** This member's place among itself and its connected peers (core/crowd-share.ts). */
  crowdShare(): CrowdShare
  connections(): Promise<CandidatePair[]>
  stats(): SiteSwarmStats
  destroy(): void
}

interface Peer {
  peerId: string
  link: PeerLink
  /** The side that made the offer, for breaking ties between two links to the same peer. */
  offererId: string
  have: Map<string, Set<number>>
  ready: boolean
  /** My requests to this peer. */
  outgoing: Map<number, Outgoing>
  /** Their requests to me, served in order. */
  serveQueue: Array<{ id: number; infoHash: string; index: number; queuedAt: number }>
  serving: number | null
  cancelledServes: Set<number>
  rateBytesPerSec: number
  lastChunkMs: number
  downloadedBytes: number
  uploadedBytes: number
  badPieces: number
  /** The peer speaks flow control (hello v ≥ 2). */
  flow: boolean
  /** When the connection opened, on the active clock (its hello is due within HELLO_TIMEOUT_MS). */
  openedMs: number
  /** Sending: what the peer lets us have in flight towards it. */
  credit: SendCredit
  /** Receiving: how much we let it have in flight towards us, and what we granted so far. */
  window: FlowWindow
  receivedBytes: number
  grantedBytes: number
  /** Ping in flight (for the one-way delay samples that size the window), and when the last went out. */
  pingSentMs: number | null
  lastPingMs: number
}

interface Outgoing {
  id: number
  want: Wanted
  size: number
  buffer: Uint8Array
  received: number
  lastProgressMs: number
  startedMs: number
}

interface Wanted {
  infoHash: string
  index: number
  tried: Set<string>
  resolve(result: PieceResult): void
  reject(error: FetchError): void
  done: boolean
  assigned: { peer: Peer; id: number } | null
}

/** Assumed rate of a peer we have not measured yet: a home uplink share. */
const INITIAL_RATE_BYTES_PER_SEC = 256 * 1024
const TICK_MS = 250
const OFFER_TTL_MS = 30_000
/**
 * An offer unanswered this long is presumed lost (relayed to a visitor who just left or who is
 * connected already, an answer that went astray): it no longer holds back a new offer, though its
 * answer is still taken until OFFER_TTL_MS. Answers come within about a second (the answerer's ICE
 * gathering is bounded at 1.5 s); before, a lost one left a visitor without that peer until the TTL,
 * longer than a page takes to load. The wait doubles with each round presumed lost (at most 8×): in
 * a crowd most unanswered offers reached members connected already, and each new offer costs the
 * page an RTCPeerConnection.
 */
export const OFFER_ANSWER_WAIT_MS = 3_000
/** A delay sample at most this often per peer while it sends to us: enough to steer the window every few RTTs. */
const PING_INTERVAL_MS = 50
/** A ping unanswered this long is forgotten (a new one may go). */
const PING_TIMEOUT_MS = 2_000
/** Longest a new member counts as settling, whatever the tracker says. */
const MAX_SETTLING_MS = 4_000
/**
 * A connection whose peer has not said hello within this much of our active time is closed, and the
 * tracker's next announce may connect the two again. Seen once in about 380 bench:net visitors with
 * peers: a connection opened, its hello never came, and the visitor, counting a peer that offered
 * nothing, took the whole page from the origin as one of a crowd of two (8.79 s against plain HTTP's
 * 8.5 s). Generous, as a peer's page may be blocked for seconds in a crowd on a busy machine (only our
 * own blocked time is left out), and a new connection costs both pages main-thread time.
 */
export const HELLO_TIMEOUT_MS = 4_000

export function createSiteSwarm(deps: SiteSwarmDeps): SiteSwarm {
  const { config } = deps
  const now = deps.now ?? Date.now
  const peerId = deps.peerId ?? randomHex(20)
  const assets = new Map<string, SwarmAsset>()
  const myHave = new Map<string, Set<number>>()
  const peers = new Map<string, Peer>()
  /** Links not yet open: my offers waiting for answers (by offer id), and answered offers connecting. */
  const pendingOffers = new Map<string, { link: PeerLink; expires: number; lostAt: number; lost: boolean }>()
  /** Rounds of offers presumed lost so far (OFFER_ANSWER_WAIT_MS). */
  let lostOfferRounds = 0
  const connecting = new Set<PeerLink>()
  const waiting: Wanted[] = []
  const availability = new Map<string, Map<number, number>>()
  const banned = new Set<string>()
  const upload = createUploadLimiter(config.maxUploadBytesPerSec, now)
  let nextRequestId = 1
  const transfers: TransferCounters = { requests: 0, stalls: 0, stallsAfterBytes: 0, stallsWhileQueued: 0, stallsPeerActive: 0, rejects: 0, cancels: 0, maxOpenPerPeer: 0, served: 0, servedQueuedMs: 0, servedReadMs: 0, servedCreditWaitMs: 0, servedUploadWaitMs: 0, servedDrainWaitMs: 0 }
  let uploadedBytes = 0
  let downloadedBytes = 0
  let destroyed = false
  let settling = !deps.seeder
  let swarmSize: number | null = null
  /** Settled once every other member the tracker counted (up to maxPeers) said hello. */
  const checkSettled = () => {
    if (swarmSize === null) return
    const ready = [...peers.values()].filter((peer) => peer.ready).length
    if (ready >= Math.min(config.maxPeers, swarmSize - 1)) settled()
  }
  /** Stall checks ignore the stretches this page's own event loop was blocked (active-clock.ts). */
  const active = createActiveClock(TICK_MS, now)
  const ticker = setInterval(tick, TICK_MS)
  const settleTimer = setTimeout(() => settled(), MAX_SETTLING_MS)

  function settled(): void {
    clearTimeout(settleTimer)
    if (!settling) return
    settling = false
    deps.onSettling?.(false)
  }

  /**
   * New connections worth offering: up to maxPeers, but no more than the others the tracker counted.
   * Offers beyond them reach visitors already connected (the tracker picks at random) and are wasted;
   * measured in a crowd of 4, creating and closing those RTCPeerConnections again and again took
   * seconds of the page's main thread, where the agent also serves and receives pieces.
   */
  function wantedOffers(): number {
    if (deps.seeder) return 0
    const others = swarmSize === null ? config.maxPeers : Math.min(config.maxPeers, swarmSize - 1)
    let awaited = 0
    for (const pending of pendingOffers.values()) if (!pending.lost) awaited++
    return others - peers.size - connecting.size - awaited
  }

  // A tracker that cannot be reached names nobody: once none can be, there is nothing to settle for
  // (the service worker stops holding HTTP back for this page at once, not after MAX_SETTLING_MS).
  const unreachable = new Set<string>()
  const trackers: TrackerClient[] = deps.trackers.map((url) =>
    createTrackerClient({
      url,
      swarmId: deps.swarmId,
      peerId,
      WebSocket: deps.WebSocket,
      seeder: deps.seeder === true,
      wantedOffers,
      createOffers,
      onOffer,
      onAnswer,
      onSwarmSize: (size) => {
        swarmSize = size
        checkSettled()
      },
      onWarning: deps.onWarning,
      onUnreachable: () => {
        unreachable.add(url)
        if (unreachable.size === deps.trackers.length) settled()
      },
    }),
  )

  // ---- connections ---------------------------------------------------------------------------------

  function newLink(initiator: boolean): PeerLink {
    return createPeerLink(initiator, { RTCPeerConnection: deps.RTCPeerConnection, iceServers: config.iceServers })
  }

  async function createOffers(count: number): Promise<Array<{ offerId: string; sdp: RTCSessionDescriptionInit }>> {
    const made = await Promise.all(
      Array.from({ length: count }, async () => {
        const link = newLink(true)
        const offerId = randomHex(20)
        try {
          const sdp = await link.createOffer()
          if (destroyed) throw new Error('destroyed')
          const answerWaitMs = OFFER_ANSWER_WAIT_MS * 2 ** Math.min(lostOfferRounds, 3)
          pendingOffers.set(offerId, { link, expires: now() + OFFER_TTL_MS, lostAt: now() + answerWaitMs, lost: false })
          link.onClose = () => pendingOffers.delete(offerId)
          return { offerId, sdp }
        } catch {
          link.close()
          return null
        }
      }),
    )
    return made.filter((offer): offer is { offerId: string; sdp: RTCSessionDescriptionInit } => offer !== null)
  }

  async function onOffer(from: string, _offerId: string, sdp: RTCSessionDescriptionInit): Promise<RTCSessionDescriptionInit | null> {
    if (destroyed || banned.has(from) || peers.has(from)) return null
    if (peers.size + connecting.size >= config.maxPeers) return null
    const link = newLink(false)
    connecting.add(link)
    wire(link, from, from)
    try {
      return await link.acceptOffer(sdp)
    } catch {
      link.close()
      return null
    }
  }

  function onAnswer(from: string, offerId: string, sdp: RTCSessionDescriptionInit): void {
    const pending = pendingOffers.get(offerId)
    if (!pending) return
    pendingOffers.delete(offerId)
    if (banned.has(from) || peers.has(from) || destroyed) return pending.link.close()
    connecting.add(pending.link)
    wire(pending.link, from, peerId)
    pending.link.acceptAnswer(sdp).catch(() => pending.link.close())
  }

  /** Hooks a link up: hello on open, messages, cleanup on close. */
  function wire(link: PeerLink, remoteId: string, offererId: string): void {
    const peer: Peer = {
      peerId: remoteId,
      link,
      offererId,
      have: new Map(),
      ready: false,
      outgoing: new Map(),
      serveQueue: [],
      serving: null,
      cancelledServes: new Set(),
      rateBytesPerSec: INITIAL_RATE_BYTES_PER_SEC,
      lastChunkMs: 0,
      downloadedBytes: 0,
      uploadedBytes: 0,
      badPieces: 0,
      flow: false,
      openedMs: 0,
      credit: createSendCredit(Number.POSITIVE_INFINITY),
      window: createFlowWindow({ initialBytes: INITIAL_CREDIT_BYTES }),
      receivedBytes: 0,
      grantedBytes: INITIAL_CREDIT_BYTES,
      pingSentMs: null,
      lastPingMs: 0,
    }
    link.onOpen = () => {
      connecting.delete(link)
      const existing = peers.get(remoteId)
      if (destroyed || banned.has(remoteId) || peers.size >= config.maxPeers + (existing ? 1 : 0)) return link.close()
      if (existing) {
        // Both sides offered at once: keep the link offered by the smaller peer id, on both sides alike.
        const keepNew = offererId < existing.offererId
        if (!keepNew) return link.close()
        existing.link.close()
      }
      peers.set(remoteId, peer)
      peer.openedMs = active.now()
      link.send(encodeControl({ t: 'hello', v: WIRE_VERSION, peerId, have: haveMap() }))
      deps.onPeers?.(peers.size)
    }
    link.onMessage = (data) => {
      if (peers.get(remoteId) !== peer) return
      if (typeof data === 'string') {
        const message = decodeControl(data)
        if (!message) return link.close()
        onControl(peer, message)
      } else {
        onChunk(peer, data)
      }
    }
    link.onClose = () => {
      // A connection that failed before it opened: offer again soon, not at the tracker's interval.
      if (connecting.delete(link) && !destroyed) for (const tracker of trackers) tracker.announceSoon()
      if (peers.get(remoteId) !== peer) return
      peers.delete(remoteId)
      peer.credit.close()
      for (const [infoHash, indexes] of peer.have) changeAvailability(infoHash, indexes, -1)
      for (const outgoing of [...peer.outgoing.values()]) reassign(outgoing.want, peer)
      peer.outgoing.clear()
      deps.onPeers?.(peers.size)
      for (const tracker of trackers) tracker.announceSoon()
    }
  }

  function haveMap(): HaveMap {
    const have: HaveMap = {}
    for (const [infoHash, indexes] of myHave) {
      const asset = assets.get(infoHash)
      if (asset && indexes.size > 0) have[infoHash] = encodeBitfield(indexes, pieceCount(asset.length, asset.pieceLength))
    }
    return have
  }

  // ---- messages ------------------------------------------------------------------------------------

  function onControl(peer: Peer, message: ControlMessage): void {
    switch (message.t) {
      case 'hello': {
        if (peer.ready || message.peerId !== peer.peerId) return peer.link.close()
        peer.ready = true
        // Flow control with a peer that speaks it: it sends to us within our credit, we to it within its.
        if (message.v >= FLOW_CONTROL_VERSION) {
          peer.flow = true
          peer.credit = createSendCredit(INITIAL_CREDIT_BYTES)
        }
        queueMicrotask(checkSettled) // after its availability is reported
        for (const [infoHash, bits] of Object.entries(message.have)) {
          const asset = assets.get(infoHash)
          // Assets this side does not know (another deploy) are of no use: ignored, never stored unbounded.
          if (asset) addPeerHave(peer, infoHash, decodeBitfield(bits, pieceCount(asset.length, asset.pieceLength)))
        }
        return dispatch()
      }
      case 'have': {
        const asset = assets.get(message.h)
        if (!asset) return
        const count = pieceCount(asset.length, asset.pieceLength)
        addPeerHave(peer, message.h, message.i.filter((index) => index < count))
        return dispatch()
      }
      case 'req':
        return onPeerRequest(peer, message.id, message.h, message.i)
      case 'cancel':
        peer.serveQueue = peer.serveQueue.filter((request) => request.id !== message.id)
        if (peer.serving === message.id) peer.cancelledServes.add(message.id)
        return
      case 'credit':
        return peer.credit.allow(message.b)
      case 'ping':
        return peer.link.send(encodeControl({ t: 'pong', n: message.n, ts: now() }))
      case 'pong': {
        if (peer.pingSentMs === null) return
        peer.pingSentMs = null
        if (peer.window.onDelay(now() - message.ts)) grantCredit(peer)
        return
      }
      case 'reject': {
        const outgoing = peer.outgoing.get(message.id)
        if (!outgoing) return
        transfers.rejects++
        peer.outgoing.delete(message.id)
        peer.have.get(outgoing.want.infoHash)?.delete(outgoing.want.index)
        changeAvailability(outgoing.want.infoHash, [outgoing.want.index], -1)
        return reassign(outgoing.want, peer)
      }
    }
  }

  function addPeerHave(peer: Peer, infoHash: string, indexes: number[]): void {
    let set = peer.have.get(infoHash)
    if (!set) peer.have.set(infoHash, (set = new Set()))
    const added: number[] = []
    for (const index of indexes) {
      if (!set.has(index)) {
        set.add(index)
        added.push(index)
      }
    }
    changeAvailability(infoHash, added, +1)
  }

  function changeAvailability(infoHash: string, indexes: Iterable<number>, delta: 1 | -1): void {
    let counts = availability.get(infoHash)
    if (!counts) availability.set(infoHash, (counts = new Map()))
    const changed: number[] = []
    for (const index of indexes) {
      const before = counts.get(index) ?? 0
      const after = Math.max(0, before + delta)
      if (after === 0) counts.delete(index)
      else counts.set(index, after)
      if ((before === 0) !== (after === 0)) changed.push(index)
    }
    if (changed.length > 0) deps.onAvailability?.(infoHash, changed, delta > 0)
  }

  /** Lets the peer send up to our window beyond what arrived (one message per chunk's worth of news). */
  function grantCredit(peer: Peer): void {
    if (!peer.flow) return
    const total = peer.receivedBytes + peer.window.bytes()
    if (total - peer.grantedBytes < Math.min(CHUNK_BYTES, peer.window.bytes() / 4)) return
    peer.grantedBytes = total
    peer.link.send(encodeControl({ t: 'credit', b: total }))
  }

  /** A one-way delay sample every PING_INTERVAL_MS while the peer sends to us. */
  function maybePing(peer: Peer, t: number): void {
    if (!peer.flow || t - peer.lastPingMs < PING_INTERVAL_MS) return
    if (peer.pingSentMs !== null && t - peer.pingSentMs < PING_TIMEOUT_MS) return
    peer.pingSentMs = t
    peer.lastPingMs = t
    peer.link.send(encodeControl({ t: 'ping', n: (t >>> 0) & 0x7fffffff }))
  }

  function onChunk(peer: Peer, data: ArrayBuffer): void {
    const chunk = decodeChunk(data)
    if (!chunk || chunk.bytes.length > MAX_CHUNK_BYTES) return peer.link.close()
    // Every chunk counts against the credit, a cancelled request's too: the sender spent it.
    peer.receivedBytes += chunk.bytes.length
    peer.window.onBytes(chunk.bytes.length)
    grantCredit(peer)
    maybePing(peer, now())
    const outgoing = peer.outgoing.get(chunk.id)
    if (!outgoing) return // cancelled: the rest of that piece is still in flight
    if (chunk.offset !== outgoing.received || outgoing.received + chunk.bytes.length > outgoing.size) return peer.link.close()
    outgoing.buffer.set(chunk.bytes, outgoing.received)
    outgoing.received += chunk.bytes.length
    const t = active.now()
    // Time since this peer's previous chunk, or since this request started if that is later (the peer
    // was idle): a request queued behind another at the same peer must not look slow.
    const elapsedSec = Math.max(0.001, (t - Math.max(peer.lastChunkMs, outgoing.startedMs)) / 1000)
    peer.lastChunkMs = t
    outgoing.lastProgressMs = t
    // Rate per peer, smoothed over chunks; with several requests in flight the chunks are back to back.
    const sample = chunk.bytes.length / elapsedSec
    peer.rateBytesPerSec = peer.rateBytesPerSec * 0.8 + Math.min(sample, 1e9) * 0.2
    peer.downloadedBytes += chunk.bytes.length
    downloadedBytes += chunk.bytes.length
    if (outgoing.received < outgoing.size) return
    peer.outgoing.delete(chunk.id)
    const { want } = outgoing
    if (!want.done) {
      want.done = true
      want.resolve({ bytes: outgoing.buffer, peerId: peer.peerId })
    }
    dispatch()
  }

  // ---- serving -------------------------------------------------------------------------------------

  const MAX_SERVE_QUEUE = 64

  function onPeerRequest(peer: Peer, id: number, infoHash: string, index: number): void {
    const asset = assets.get(infoHash)
    if (!asset || !myHave.get(infoHash)?.has(index) || peer.serveQueue.length >= MAX_SERVE_QUEUE) {
      return peer.link.send(encodeControl({ t: 'reject', id }))
    }
    peer.serveQueue.push({ id, infoHash, index, queuedAt: now() })
    if (peer.serving === null) void serveLoop(peer)
  }

  async function serveLoop(peer: Peer): Promise<void> {
    // The next queued piece is read from the store while this one is sent: a store read between pieces
    // would leave the link idle (small pieces take tens of ms to send at a home uplink's rate).
    let readAhead: { id: number; bytes: Promise<Uint8Array | undefined> } | null = null
    const read = (request: { infoHash: string; index: number }) => deps.readPiece(request.infoHash, request.index).catch(() => undefined)
    while (peer.serveQueue.length > 0 && peer.link.isOpen()) {
      const request = peer.serveQueue.shift()!
      peer.serving = request.id
      const started = now()
      const pending: Promise<Uint8Array | undefined> = readAhead?.id === request.id ? readAhead.bytes : read(request)
      const upcoming = peer.serveQueue[0]
      readAhead = upcoming ? { id: upcoming.id, bytes: read(upcoming) } : null
      const bytes = await pending
      transfers.servedQueuedMs += started - request.queuedAt
      transfers.servedReadMs += now() - started
      if (!bytes) {
        peer.link.send(encodeControl({ t: 'reject', id: request.id }))
        continue
      }
      transfers.served++
      for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
        if (peer.cancelledServes.has(request.id) || !peer.link.isOpen()) break
        const part = bytes.subarray(offset, Math.min(bytes.length, offset + CHUNK_BYTES))
        // Counted as sent once taken, so it is sent even if cancelled meanwhile (the receiver counts it).
        let t = now()
        await peer.credit.take(part.length)
        transfers.servedCreditWaitMs += now() - t
        t = now()
        await upload.take(part.length)
        transfers.servedUploadWaitMs += now() - t
        t = now()
        await peer.link.drained()
        transfers.servedDrainWaitMs += now() - t
        peer.link.send(encodeChunk(request.id, offset, part))
        peer.uploadedBytes += part.length
        uploadedBytes += part.length
      }
      peer.cancelledServes.delete(request.id)
    }
    peer.serving = null
  }

  // ---- fetching ------------------------------------------------------------------------------------

  function holders(want: Wanted): Peer[] {
    const found: Peer[] = []
    for (const peer of peers.values()) {
      if (peer.ready && !want.tried.has(peer.peerId) && peer.have.get(want.infoHash)?.has(want.index)) found.push(peer)
    }
    return found
  }

  /** Bytes this peer still owes us, over its measured rate: when it would finish one more piece. */
  function etaMs(peer: Peer, size: number): number {
    let owed = size
    for (const outgoing of peer.outgoing.values()) owed += outgoing.size - outgoing.received
    return (owed / Math.max(1, peer.rateBytesPerSec)) * 1000
  }

  /** Assigns waiting requests to the holder likely to finish first with a free slot. */
  function dispatch(): void {
    for (let i = 0; i < waiting.length; i++) {
      const want = waiting[i]
      if (want.done) {
        waiting.splice(i--, 1)
        continue
      }
      const candidates = holders(want)
      if (candidates.length === 0) {
        waiting.splice(i--, 1)
        want.done = true
        want.reject(new FetchError(want.tried.size > 0 ? 'stalled' : 'unavailable'))
        continue
      }
      const asset = assets.get(want.infoHash)!
      const size = pieceSize(want.index, asset.length, asset.pieceLength)
      const free = candidates.filter((peer) => peer.outgoing.size < config.maxRequestsPerPeer)
      if (free.length === 0) continue // stays waiting until a slot frees
      free.sort((a, b) => etaMs(a, size) - etaMs(b, size))
      const peer = free[0]
      waiting.splice(i--, 1)
      const id = nextRequestId++
      const t = active.now()
      peer.outgoing.set(id, { id, want, size, buffer: new Uint8Array(size), received: 0, lastProgressMs: t, startedMs: t })
      want.assigned = { peer, id }
      transfers.requests++
      transfers.maxOpenPerPeer = Math.max(transfers.maxOpenPerPeer, peer.outgoing.size)
      peer.link.send(encodeControl({ t: 'req', id, h: want.infoHash, i: want.index }))
    }
  }

  /** The request left `from` (closed, rejected, stalled): try another holder, or fail. */
  function reassign(want: Wanted, from: Peer): void {
    want.tried.add(from.peerId)
    want.assigned = null
    if (want.done) return
    waiting.push(want)
    dispatch()
  }

  function tick(): void {
    active.tick()
    const t = active.now()
    for (const peer of peers.values()) {
      if (!peer.ready && t - peer.openedMs > HELLO_TIMEOUT_MS) {
        peer.link.close()
        continue
      }
      for (const outgoing of [...peer.outgoing.values()]) {
        if (outgoing.want.done) continue
        // Queued behind other pieces at that peer: it may wait for the bytes ahead at the peer's rate.
        let bytesAheadOfIt = 0
        for (const o of peer.outgoing.values()) if (o.startedMs < outgoing.startedMs || (o.startedMs === outgoing.startedMs && o.id < outgoing.id)) bytesAheadOfIt += o.size - o.received
        const stalled = isStalled({
          nowMs: t,
          startedMs: outgoing.startedMs,
          // The peer as a whole is moving while it sends the pieces ahead of this one.
          lastProgressMs: outgoing.received === 0 ? Math.max(outgoing.lastProgressMs, peer.lastChunkMs) : outgoing.lastProgressMs,
          receivedBytes: outgoing.received,
          bytesAheadOfIt,
          peerBytesPerSec: peer.rateBytesPerSec,
          stallMs: config.stallMs,
        })
        if (!stalled) continue
        peer.outgoing.delete(outgoing.id)
        peer.link.send(encodeControl({ t: 'cancel', id: outgoing.id }))
        transfers.stalls++
        if (outgoing.received > 0) transfers.stallsAfterBytes++
        if (bytesAheadOfIt > 0) transfers.stallsWhileQueued++
        if (t - peer.lastChunkMs <= config.stallMs) transfers.stallsPeerActive++
        peer.rateBytesPerSec /= 2
        reassign(outgoing.want, peer)
      }
    }
    let lostNow = false
    for (const [offerId, pending] of pendingOffers) {
      if (pending.expires < now()) {
        pendingOffers.delete(offerId)
        pending.link.close()
      } else if (!pending.lost && pending.lostAt <= now()) {
        pending.lost = true
        lostNow = true
      }
    }
    // Offers presumed lost no longer hold back new ones: make them now if connections are still wanted.
    if (lostNow) {
      lostOfferRounds++
      if (wantedOffers() > 0) for (const tracker of trackers) tracker.announceSoon()
    }
  }

  function drop(peerIdToBan: string): void {
    banned.add(peerIdToBan)
    peers.get(peerIdToBan)?.link.close()
  }

  return {
    peerId,
    settling: () => settling,
    setAssets(list) {
      for (const asset of list) assets.set(asset.infoHash, asset)
    },
    addHave(infoHash, indexes) {
      let set = myHave.get(infoHash)
      if (!set) myHave.set(infoHash, (set = new Set()))
      const added = indexes.filter((index) => !set!.has(index))
      for (const index of added) set.add(index)
      if (added.length === 0) return
      const message = encodeControl({ t: 'have', h: infoHash, i: added })
      for (const peer of peers.values()) if (peer.ready) peer.link.send(message)
    },
    available: (infoHash, index) => (availability.get(infoHash)?.get(index) ?? 0) > 0,
    availableIndexes: (infoHash) => [...(availability.get(infoHash)?.keys() ?? [])],
    fetchPiece(infoHash, index) {
      let want!: Wanted
      const promise = new Promise<PieceResult>((resolve, reject) => {
        want = { infoHash, index, tried: new Set(), resolve, reject, done: false, assigned: null }
      })
      if (!assets.has(infoHash) || destroyed) {
        want.done = true
        want.reject(new FetchError('unavailable'))
      } else {
        waiting.push(want)
        dispatch()
      }
      return {
        promise,
        cancel() {
          if (want.done) return
          want.done = true
          want.reject(new FetchError('cancelled'))
          const assigned = want.assigned
          if (assigned && assigned.peer.outgoing.delete(assigned.id)) {
            transfers.cancels++
            assigned.peer.link.send(encodeControl({ t: 'cancel', id: assigned.id }))
          }
          dispatch()
        },
      }
    },
    reportBadPiece(badPeerId) {
      const peer = peers.get(badPeerId)
      const count = (peer?.badPieces ?? config.maxBadPiecesPerPeer - 1) + 1
      if (peer) peer.badPieces = count
      if (count >= config.maxBadPiecesPerPeer) drop(badPeerId)
    },
    crowdShare: () => crowdShareOf(peerId, peers.keys()),
    peers: () =>
      [...peers.values()].map((peer) => ({
        peerId: peer.peerId,
        downloadBytesPerSec: Math.round(peer.rateBytesPerSec),
        uploadedBytes: peer.uploadedBytes,
        downloadedBytes: peer.downloadedBytes,
        windowBytes: peer.flow ? peer.window.bytes() : 0,
        baseDelayMs: peer.window.baseDelayMs(),
      })),
    async connections() {
      const pairs = await Promise.all([...peers.values()].map((peer) => peer.link.candidatePair()))
      return pairs.filter((pair): pair is CandidatePair => pair !== null)
    },
    stats: () => ({ peers: peers.size, uploadedBytes, downloadedBytes, bannedPeers: banned.size, transfers: { ...transfers } }),
    destroy() {
      if (destroyed) return
      destroyed = true
      clearInterval(ticker)
      clearTimeout(settleTimer)
      for (const tracker of trackers) tracker.destroy()
      for (const want of waiting) if (!want.done) ((want.done = true), want.reject(new FetchError('closed')))
      waiting.length = 0
      for (const { link } of pendingOffers.values()) link.close()
      for (const link of connecting) link.close()
      for (const peer of [...peers.values()]) {
        for (const outgoing of peer.outgoing.values()) if (!outgoing.want.done) ((outgoing.want.done = true), outgoing.want.reject(new FetchError('closed')))
        peer.link.close()
      }
    },
  }
}
