// Rendezvous through one standard WebTorrent tracker (the WebSocket tracker protocol of
// bittorrent-tracker, aquatic_ws, wt-tracker): announce the site swarm with WebRTC offers, answer the
// offers the tracker relays, take the answers to ours. Nothing else travels through the tracker.
// One client per tracker URL; reconnects with backoff; re-announces at the tracker's interval.

import { binaryStringToHex, hexToBinaryString, randomHex } from './peer-wire.ts'

export interface Offer {
  offerId: string
  sdp: RTCSessionDescriptionInit
}

export interface TrackerClientDeps {
  url: string
  /** Site swarm id, 40 hex. */
  swarmId: string
  /** This peer's id, 40 hex. */
  peerId: string
  WebSocket: typeof WebSocket
  /** Seeders say left=0, visitors left=1: the tracker counts them as complete / incomplete. */
  seeder: boolean
  /** How many new connections are wanted now: offers sent with the next announce (at most 5). */
  wantedOffers(): number
  /** Creates up to `count` offers (some may fail); each is an RTCPeerConnection waiting for an answer. */
  createOffers(count: number): Promise<Offer[]>
  /** A relayed offer from `peerId`: the answer to send back, or null to ignore it. */
  onOffer(peerId: string, offerId: string, sdp: RTCSessionDescriptionInit): Promise<RTCSessionDescriptionInit | null>
  onAnswer(peerId: string, offerId: string, sdp: RTCSessionDescriptionInit): void
  /** Tracker counts of the swarm (complete + incomplete), after each announce reply. */
  onSwarmSize?(peers: number): void
  onWarning?(message: string): void
  /** The tracker could not be reached twice in a row; retries go on. */
  onUnreachable?(): void
  now?: () => number
  setTimer?: (callback: () => void, ms: number) => () => void
  random?: () => number
}

export interface TrackerClient {
  /** Announce now (e.g. a connection closed and more are wanted), at most once a second. */
  announceSoon(): void
  destroy(): void
}

/** Bounds on the tracker's interval: its word, within reason. */
const MIN_INTERVAL_MS = 5_000
const MAX_INTERVAL_MS = 120_000
const RECONNECT_MIN_MS = 1_000
const RECONNECT_MAX_MS = 60_000
const MAX_OFFERS_PER_ANNOUNCE = 5
const MIN_ANNOUNCE_GAP_MS = 1_000
/** While offers go unanswered (they may have reached visitors long gone), announce again this soon, doubling. */
const RETRY_FIRST_MS = 2_000

const defaultSetTimer = (callback: () => void, ms: number) => {
  const timer = setTimeout(callback, ms)
  return () => clearTimeout(timer)
}

export function createTrackerClient(deps: TrackerClientDeps): TrackerClient {
  const setTimer = deps.setTimer ?? defaultSetTimer
  const now = deps.now ?? Date.now
  const random = deps.random ?? Math.random
  const infoHash = hexToBinaryString(deps.swarmId)
  const peerId = hexToBinaryString(deps.peerId)
  let socket: WebSocket | null = null
  let destroyed = false
  let intervalMs = 30_000
  let failures = 0
  let started = false
  let lastAnnounceMs = -Infinity
  let cancelTimer: (() => void) | undefined
  let announcing = false
  let retryMs = RETRY_FIRST_MS
  /**
   * Offers whose ICE gathering started with the very first connection, before the socket opened: the
   * socket's two round trips and the gathering overlap (bench:net, 40 ms round trips: the offers went
   * out 0.15 s after the socket opened; a visitor's first peer connected 0.6-0.7 s after that).
   */
  let earlyOffers: Promise<Offer[]> | null = null
  let socketMade = false

  function send(message: Record<string, unknown>): void {
    if (socket?.readyState === 1) socket.send(JSON.stringify(message))
  }

  function schedule(ms: number, task: () => void): void {
    cancelTimer?.()
    cancelTimer = setTimer(task, ms)
  }

  async function announce(): Promise<void> {
    if (destroyed || announcing || socket?.readyState !== 1) return
    announcing = true
    try {
      lastAnnounceMs = now()
      const count = Math.max(0, Math.min(MAX_OFFERS_PER_ANNOUNCE, Math.floor(deps.wantedOffers())))
      if (!started && count > 0) {
        // Join at once, without offers: the reply's counts tell a visitor alone that nobody is there
        // before its offers are gathered (ICE with STUN takes a few round trips), so its service worker
        // stops holding HTTP back that much sooner. The offers follow in the next announce.
        send({ action: 'announce', info_hash: infoHash, peer_id: peerId, numwant: 0, uploaded: 0, downloaded: 0, left: deps.seeder ? 0 : 1, event: 'started', offers: [] })
        started = true
      }
      const early = earlyOffers
      earlyOffers = null
      const offers = count > 0 ? await (early ?? deps.createOffers(count)).catch(() => []) : []
      if (destroyed) return
      send({
        action: 'announce',
        info_hash: infoHash,
        peer_id: peerId,
        numwant: offers.length,
        uploaded: 0,
        downloaded: 0,
        left: deps.seeder ? 0 : 1,
        ...(started ? {} : { event: 'started' }),
        offers: offers.map((offer) => ({ offer: offer.sdp, offer_id: hexToBinaryString(offer.offerId) })),
      })
      started = true
    } finally {
      announcing = false
      // Still short of connections: try again soon (backing off) rather than a whole interval later.
      const stillWanted = deps.wantedOffers() > 0
      schedule(stillWanted ? Math.min(retryMs, intervalMs) : intervalMs, () => void announce())
      retryMs = stillWanted ? Math.min(retryMs * 2, intervalMs) : RETRY_FIRST_MS
    }
  }

  async function onMessage(text: string): Promise<void> {
    let data: Record<string, unknown>
    try {
      data = JSON.parse(text)
    } catch {
      return
    }
    if (typeof data !== 'object' || data === null || data.action !== 'announce' || data.info_hash !== infoHash) return
    if (typeof data['failure reason'] === 'string') return deps.onWarning?.(`${deps.url}: ${data['failure reason']}`)
    const interval = Number(data.interval)
    if (Number.isFinite(interval) && interval > 0) intervalMs = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, interval * 1000))
    if (typeof data.complete === 'number' || typeof data.incomplete === 'number') {
      deps.onSwarmSize?.((Number(data.complete) || 0) + (Number(data.incomplete) || 0))
    }
    const from = typeof data.peer_id === 'string' && data.peer_id.length === 20 ? binaryStringToHex(data.peer_id) : null
    const offerId = typeof data.offer_id === 'string' && data.offer_id.length === 20 ? binaryStringToHex(data.offer_id) : null
    if (!from || !offerId || from === deps.peerId) return
    const sdp = (data.offer ?? data.answer) as RTCSessionDescriptionInit | undefined
    if (!sdp || typeof sdp !== 'object' || typeof sdp.sdp !== 'string') return
    if (data.offer) {
      const answer = await deps.onOffer(from, offerId, sdp).catch(() => null)
      if (answer && !destroyed) send({ action: 'announce', info_hash: infoHash, peer_id: peerId, to_peer_id: data.peer_id, answer, offer_id: data.offer_id })
    } else {
      deps.onAnswer(from, offerId, sdp)
    }
  }

  function connect(): void {
    if (destroyed) return
    let ws: WebSocket
    try {
      ws = new deps.WebSocket(deps.url)
    } catch (error) {
      deps.onWarning?.(`${deps.url}: ${String(error)}`)
      return reconnectLater()
    }
    socket = ws
    if (!started && failures === 0 && !socketMade) {
      const count = Math.max(0, Math.min(MAX_OFFERS_PER_ANNOUNCE, Math.floor(deps.wantedOffers())))
      if (count > 0) earlyOffers = deps.createOffers(count)
      earlyOffers?.catch(() => undefined)
    }
    socketMade = true
    ws.onopen = () => {
      failures = 0
      started = false // a new connection is a new session for the tracker
      void announce()
    }
    ws.onmessage = (event) => void onMessage(typeof event.data === 'string' ? event.data : '')
    ws.onerror = () => undefined // onclose follows
    ws.onclose = () => {
      if (socket !== ws) return
      socket = null
      if (!destroyed) reconnectLater()
    }
  }

  function reconnectLater(): void {
    failures++
    if (failures === 1) deps.onWarning?.(`${deps.url}: tracker unreachable; retrying`)
    // Twice in a row: Firefox's first connection during a page load can fail and the next succeed.
    if (failures === 2) deps.onUnreachable?.()
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.min(failures - 1, 10))
    schedule(base * (0.5 + 0.5 * random()), connect)
  }

  connect()

  return {
    announceSoon() {
      if (destroyed || socket?.readyState !== 1) return
      const wait = Math.max(0, lastAnnounceMs + MIN_ANNOUNCE_GAP_MS - now())
      schedule(wait, () => void announce())
    },
    destroy() {
      if (destroyed) return
      destroyed = true
      cancelTimer?.()
      if (socket?.readyState === 1 && started) send({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'stopped', numwant: 0, uploaded: 0, downloaded: 0, left: deps.seeder ? 0 : 1 })
      try {
        socket?.close()
      } catch {
        // Already closed.
      }
      socket = null
    },
  }
}

export const newPeerId = () => randomHex(20)
