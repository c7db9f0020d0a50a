// A WebSocket BitTorrent tracker on bittorrent-tracker's server, with swarmcdn's policy in front of
// every message: admit only the manifest's swarms, cap message size, offers per announce and peer ids
// per connection and per address, rate-limit every message type, and bound and expire swarms.
// It has no HTTP server of its own: callers hand it WebSocket upgrades, so it can share a port.

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import Server from 'bittorrent-tracker/server'
import { TokenBuckets } from './token-buckets.ts'
import { isAdmitted, type TrackerAdmission } from './tracker-admission.ts'

export interface TrackerConfig {
  /** Swarms peers may join; null admits any (still bounded by maxSwarms). */
  admission: TrackerAdmission | null
  /** Offers relayed per announce: bounds the WebRTC connections one announce can start. Default 10. */
  maxOffersPerAnnounce: number
  /** Largest WebSocket message accepted; a bigger one closes the connection (1009). Default 64 KiB (10 offers with full SDP fit). */
  maxMessageBytes: number
  /** Messages of any type (announce, answer, scrape) a connection may send in a burst. Default 100. */
  burstMessagesPerConnection: number
  /** Sustained messages per second per connection. Default 5. */
  messagesPerSecPerConnection: number
  /** Messages of any type from one client address in a burst (all its connections). Default 1000. */
  burstMessagesPerAddress: number
  /** Sustained messages per second per address. Default 50 (hundreds of visitors behind one NAT). */
  messagesPerSecPerAddress: number
  /** WebRTC offers relayed from one address in a burst. Default 2000. */
  burstOffersPerAddress: number
  /** Sustained offers relayed per second per address. Default 100. */
  offersPerSecPerAddress: number
  /** Open WebSockets per client address; more are refused (HTTP 429). Default 256. */
  maxConnectionsPerAddress: number
  /** Peer ids one connection may announce (a WebTorrent client uses one). Default 4. */
  maxPeerIdsPerConnection: number
  /** Peer ids announced by all connections of one address together. Default 256. */
  maxPeerIdsPerAddress: number
  /** Infohashes in one scrape; a scrape must name them. Default 64. */
  maxScrapeInfoHashes: number
  /** Swarms held at once; an announce that would open one more is refused. Default 10 000. */
  maxSwarms: number
  /** A peer that has not announced for this long is dropped. Default 120 000 (two announce intervals). */
  peerTtlMs: number
  /** How often empty and no longer admitted swarms are removed. Default 60 000. */
  sweepIntervalMs: number
  /** How often clients are told to re-announce, ms. Default 60 000 (WebSocket clients get a fifth of it). */
  announceIntervalMs: number
  /** Trust X-Forwarded-For (only behind your own reverse proxy). Default false. */
  trustProxy: boolean
  /** Clock for the rate limits. Default Date.now. */
  now?: () => number
}

export const TRACKER_DEFAULTS: TrackerConfig = {
  admission: null,
  maxOffersPerAnnounce: 10,
  maxMessageBytes: 64 * 1024,
  burstMessagesPerConnection: 100,
  messagesPerSecPerConnection: 5,
  burstMessagesPerAddress: 1000,
  messagesPerSecPerAddress: 50,
  burstOffersPerAddress: 2000,
  offersPerSecPerAddress: 100,
  maxConnectionsPerAddress: 256,
  maxPeerIdsPerConnection: 4,
  maxPeerIdsPerAddress: 256,
  maxScrapeInfoHashes: 64,
  maxSwarms: 10_000,
  peerTtlMs: 120_000,
  sweepIntervalMs: 60_000,
  announceIntervalMs: 60_000,
  trustProxy: false,
}

export interface TrackerStats {
  swarms: number
  peers: number
  announces: number
  answers: number
  scrapes: number
  refusedInfoHash: number
  rateLimited: number
  offersTrimmed: number
  /** WebRTC offers received in announces (before trimming). */
  offers: number
  /** Offers handed on to the swarm (at most one peer each). */
  offersRelayed: number
  refusedPeerId: number
  refusedSwarms: number
  refusedScrapes: number
  refusedConnections: number
  oversizeMessages: number
  closedForAbuse: number
  swarmsExpired: number
  connections: number
  torrents: Array<{ infoHash: string; seeders: number; leechers: number; peers: number }>
}

/** What the tracker keeps per WebSocket. */
interface Connection {
  id: string
  address: string
  /** Peer id (hex) → swarms (hex) it announced on this connection. */
  peers: Map<string, Set<string>>
  /** Refusals in a row; a client that ignores them is disconnected. */
  strikes: number
}

type Verdict = { ok: true } | { ok: false; reason: string }

const binToHex = (text: string) => Buffer.from(text, 'latin1').toString('hex')

export class SwarmTracker {
  readonly server: Server
  private readonly config: TrackerConfig
  private readonly perConnection: TokenBuckets
  private readonly perAddress: TokenBuckets
  private readonly offersPerAddress: TokenBuckets
  private readonly addresses = new Map<string, { connections: number; peerIds: number }>()
  private readonly sweepTimer: NodeJS.Timeout
  private admission: TrackerAdmission | null
  private nextConnectionId = 0
  /** Open WebSockets, so close() can end them (the library keeps no list). */
  private readonly sockets = new Set<any>()
  private readonly counters = {
    announces: 0, answers: 0, scrapes: 0, refusedInfoHash: 0, rateLimited: 0, offersTrimmed: 0, offers: 0, offersRelayed: 0,
    refusedPeerId: 0, refusedSwarms: 0, refusedScrapes: 0, refusedConnections: 0, oversizeMessages: 0, closedForAbuse: 0, swarmsExpired: 0, connections: 0,
  }

  constructor(config: Partial<TrackerConfig> = {}) {
    this.config = { ...TRACKER_DEFAULTS, ...config }
    const now = this.config.now
    this.admission = this.config.admission
    this.perConnection = new TokenBuckets({ burst: this.config.burstMessagesPerConnection, perSec: this.config.messagesPerSecPerConnection, now })
    this.perAddress = new TokenBuckets({ burst: this.config.burstMessagesPerAddress, perSec: this.config.messagesPerSecPerAddress, now })
    this.offersPerAddress = new TokenBuckets({ burst: this.config.burstOffersPerAddress, perSec: this.config.offersPerSecPerAddress, now })
    this.server = new Server({
      http: false,
      udp: false,
      stats: false,
      // The library spreads this into ws's WebSocketServer: a bigger frame closes the socket before it is buffered.
      ws: { noServer: true, maxPayload: this.config.maxMessageBytes },
      interval: this.config.announceIntervalMs,
      peersCacheTtl: this.config.peerTtlMs,
      trustProxy: this.config.trustProxy,
      // Second line of defence; the policy below already refused what is not admitted.
      filter: (infoHash: string, _params: unknown, callback: (error?: Error) => void) => {
        if (isAdmitted(this.admission, infoHash)) return callback()
        callback(new Error(`infohash ${infoHash} is not in this site's manifest`))
      },
    })
    // Swarms are created here, synchronously and bounded (the library's own createSwarm defers the
    // insert a tick, so concurrent announces would all see room, and two for one infohash would race).
    this.server.createSwarm = (infoHash: string, callback: (error: Error | null, swarm?: unknown) => void) => {
      const torrents = this.server.torrents as Record<string, any>
      let swarm = torrents[infoHash]
      if (!swarm && Object.keys(torrents).length >= this.config.maxSwarms) {
        this.counters.refusedSwarms++
        process.nextTick(() => callback(new Error('tracker is full; try later')))
        return
      }
      swarm ??= torrents[infoHash] = new Server.Swarm(infoHash, this.server)
      process.nextTick(() => callback(null, swarm))
    }
    this.server.on('warning', () => {}) // client mistakes are answered with a failure reason; not fatal
    this.server.on('error', () => {})
    this.sweepTimer = setInterval(() => this.sweep(), this.config.sweepIntervalMs)
    this.sweepTimer.unref()
  }

  /** A new build: admit its swarms from now on (the next sweep drops the swarms it no longer lists). */
  setAdmission(admission: TrackerAdmission | null): void {
    this.admission = admission
  }

  /** Hand a WebSocket upgrade request to the tracker. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const address = this.clientAddress(request)
    const perAddress = this.addresses.get(address) ?? { connections: 0, peerIds: 0 }
    if (perAddress.connections >= this.config.maxConnectionsPerAddress) {
      this.counters.refusedConnections++
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    perAddress.connections++
    this.addresses.set(address, perAddress)
    let opened = false
    this.server.ws.handleUpgrade(request, socket, head, (ws: any) => {
      opened = true
      this.sockets.add(ws)
      this.counters.connections++
      ws.upgradeReq = request
      this.server.onWebSocketConnection(ws, { trustProxy: this.config.trustProxy })
      const connection: Connection = { id: String(this.nextConnectionId++), address, peers: new Map(), strikes: 0 }
      this.applyPolicy(ws, connection)
      ws.on('error', (error: { code?: string }) => {
        if (error?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.counters.oversizeMessages++
      })
      ws.on('close', () => {
        this.sockets.delete(ws)
        this.onClose(ws, connection)
      })
    })
    // A failed handshake never reaches the callback: give the address its slot back.
    socket.once('close', () => {
      if (!opened) this.releaseAddress(address, 0)
    })
  }

  /** Puts our checks in front of the library's message handler. */
  private applyPolicy(ws: any, connection: Connection): void {
    const libraryHandler = ws.onMessageBound as (data: string) => void
    ws.removeListener('message', libraryHandler)
    ws.on('message', (data: Buffer) => {
      const text = data.toString()
      let params: any
      try {
        params = JSON.parse(text)
      } catch {
        params = undefined
      }
      const verdict = this.police(connection, params, ws)
      if (!verdict.ok) {
        connection.strikes++
        // A client that keeps sending after being told no is not listening: stop reading it.
        if (connection.strikes > this.config.burstMessagesPerConnection) {
          this.counters.closedForAbuse++
          ws.close(1008, 'policy')
          return
        }
        const action = params?.action === 'scrape' ? 'scrape' : 'announce'
        const reply: Record<string, unknown> = { action, 'failure reason': verdict.reason }
        if (typeof params?.info_hash === 'string') reply.info_hash = params.info_hash
        ws.send(JSON.stringify(reply), ws.onSend)
        return
      }
      connection.strikes = 0
      libraryHandler(params === undefined ? text : JSON.stringify(params))
    })
  }

  /** Checks (and trims) one message; every type spends from the rate limits. */
  private police(connection: Connection, params: any, ws: any): Verdict {
    if (!this.perConnection.allow(connection.id) || !this.perAddress.allow(connection.address)) {
      this.counters.rateLimited++
      return { ok: false, reason: 'too many messages; slow down' }
    }
    if (params?.action === 'announce') return this.policeAnnounce(connection, params, ws)
    if (params?.action === 'scrape') return this.policeScrape(params)
    return { ok: true } // the library answers anything else with a failure reason
  }

  private policeAnnounce(connection: Connection, params: any, ws: any): Verdict {
    if (params.answer) this.counters.answers++
    else this.counters.announces++
    if (typeof params.info_hash !== 'string' || params.info_hash.length !== 20) return { ok: true } // the library refuses it
    if (typeof params.peer_id !== 'string' || params.peer_id.length !== 20) return { ok: true }
    const infoHash = binToHex(params.info_hash)
    if (!isAdmitted(this.admission, infoHash)) {
      this.counters.refusedInfoHash++
      return { ok: false, reason: `infohash ${infoHash} is not in this site's manifest` }
    }
    const swarm = (this.server.torrents as Record<string, any>)[infoHash]
    const peerCheck = this.checkPeerId(connection, binToHex(params.peer_id), infoHash, swarm, ws, params.event === 'stopped')
    if (!peerCheck.ok) return peerCheck

    if (params.answer) {
      // An answer goes to one peer; bittorrent-tracker would still relay offers riding along with it.
      delete params.offers
      return { ok: true }
    }
    if (params.offers !== undefined && !Array.isArray(params.offers)) delete params.offers
    if (Array.isArray(params.offers)) {
      this.counters.offers += params.offers.length
      // The library dereferences each offer: anything but an object would throw inside it.
      const wellFormed = params.offers.filter((offer: any) => offer !== null && typeof offer === 'object' && !Array.isArray(offer))
      const capped = wellFormed.slice(0, this.config.maxOffersPerAnnounce)
      const granted = this.offersPerAddress.take(connection.address, capped.length)
      params.offers = capped.slice(0, granted)
      this.counters.offersTrimmed += params.offers.length < wellFormed.length ? wellFormed.length - params.offers.length : 0
      if (params.offers.length > 0) {
        // At most one offer per other peer of the swarm is relayed.
        const others = swarm ? Math.max(0, swarm.peers.length - (swarm.peers.peek(binToHex(params.peer_id)) ? 1 : 0)) : 0
        this.counters.offersRelayed += Math.min(params.offers.length, others)
      }
    }
    return { ok: true }
  }

  /** One peer id per client, bounded per address; a peer id owned by another connection is not usable. */
  private checkPeerId(connection: Connection, peerId: string, infoHash: string, swarm: any, ws: any, stopping: boolean): Verdict {
    const owner = swarm?.peers.peek(peerId)
    if (owner?.socket && owner.socket !== ws) {
      this.counters.refusedPeerId++
      return { ok: false, reason: 'peer_id is in use by another connection' }
    }
    let swarms = connection.peers.get(peerId)
    if (!swarms) {
      const perAddress = this.addresses.get(connection.address)!
      if (connection.peers.size >= this.config.maxPeerIdsPerConnection || perAddress.peerIds >= this.config.maxPeerIdsPerAddress) {
        this.counters.refusedPeerId++
        return { ok: false, reason: 'too many peer ids from this client' }
      }
      swarms = new Set()
      connection.peers.set(peerId, swarms)
      perAddress.peerIds++
    }
    if (stopping) swarms.delete(infoHash)
    else swarms.add(infoHash)
    return { ok: true }
  }

  private policeScrape(params: any): Verdict {
    this.counters.scrapes++
    const hashes = typeof params.info_hash === 'string' ? [params.info_hash] : params.info_hash
    // Without info_hash the library lists every swarm: name what you want.
    if (!Array.isArray(hashes) || hashes.length === 0 || hashes.length > this.config.maxScrapeInfoHashes) {
      this.counters.refusedScrapes++
      return { ok: false, reason: `scrape names 1 to ${this.config.maxScrapeInfoHashes} infohashes` }
    }
    return { ok: true }
  }

  /** The library stops only the first peer id of a socket: stop every peer this connection announced. */
  private onClose(ws: any, connection: Connection): void {
    this.counters.connections--
    const torrents = this.server.torrents as Record<string, any>
    for (const [peerId, swarms] of connection.peers) {
      for (const infoHash of swarms) {
        const swarm = torrents[infoHash]
        if (swarm && swarm.peers.peek(peerId)?.socket === ws) swarm.announce({ type: 'ws', event: 'stopped', numwant: 0, peer_id: peerId })
      }
    }
    this.perConnection.forget(connection.id)
    this.releaseAddress(connection.address, connection.peers.size)
  }

  private releaseAddress(address: string, peerIds: number): void {
    const perAddress = this.addresses.get(address)
    if (!perAddress) return
    perAddress.connections--
    perAddress.peerIds -= peerIds
    if (perAddress.connections <= 0) this.addresses.delete(address)
  }

  /** Drops expired peers, then swarms that are empty or no longer admitted. Runs every sweepIntervalMs. */
  sweep(): void {
    const torrents = this.server.torrents as Record<string, any>
    for (const [infoHash, swarm] of Object.entries(torrents)) {
      for (const peerId of swarm.peers.keys) swarm.peers.peek(peerId) // peek evicts a peer past its TTL
      if (swarm.peers.length === 0 || !isAdmitted(this.admission, infoHash)) {
        delete torrents[infoHash]
        this.counters.swarmsExpired++
      }
    }
  }

  private clientAddress(request: IncomingMessage): string {
    const forwarded = this.config.trustProxy ? request.headers['x-forwarded-for'] : undefined
    if (typeof forwarded === 'string') return forwarded.split(',')[0].trim()
    return (request.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '')
  }

  stats(): TrackerStats {
    const torrents = Object.entries(this.server.torrents as Record<string, any>).map(([infoHash, swarm]) => ({
      infoHash,
      seeders: swarm.complete,
      leechers: swarm.incomplete,
      peers: swarm.peers.length,
    }))
    return {
      swarms: torrents.length,
      peers: torrents.reduce((sum, t) => sum + t.peers, 0),
      ...this.counters,
      torrents,
    }
  }

  close(): Promise<void> {
    clearInterval(this.sweepTimer)
    for (const ws of this.sockets) ws.terminate()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

