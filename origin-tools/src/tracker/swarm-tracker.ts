// A WebSocket BitTorrent tracker on bittorrent-tracker's server, with swarmcdn's policy on top:
// admit only the manifest's infohashes, cap offers per announce, rate-limit per address.
// It has no HTTP server of its own: callers hand it WebSocket upgrades, so it can share a port.

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import Server from 'bittorrent-tracker/server'
import { AnnounceRateLimiter } from './announce-rate-limiter.ts'

export interface TrackerConfig {
  /** Infohashes (hex) admitted; null admits any. */
  allowedInfoHashes: Set<string> | null
  /** Offers relayed per announce: bounds the WebRTC connections one announce can start. Default 10. */
  maxOffersPerAnnounce: number
  /** Announce burst per client address. Default 200 (a page joins a swarm per asset). */
  burstAnnouncesPerAddress: number
  /** Sustained announces per second per address. Default 5. */
  announcesPerSecPerAddress: number
  /** How often clients are told to re-announce, ms. Default 60 000 (WebSocket clients get a fifth of it). */
  announceIntervalMs: number
  /** Trust X-Forwarded-For (only behind your own reverse proxy). Default false. */
  trustProxy: boolean
}

export const TRACKER_DEFAULTS: TrackerConfig = {
  allowedInfoHashes: null,
  maxOffersPerAnnounce: 10,
  burstAnnouncesPerAddress: 200,
  announcesPerSecPerAddress: 5,
  announceIntervalMs: 60_000,
  trustProxy: false,
}

export interface TrackerStats {
  swarms: number
  peers: number
  announces: number
  refusedInfoHash: number
  rateLimited: number
  offersTrimmed: number
  /** WebRTC offers received in announces (before trimming). */
  offers: number
  connections: number
  torrents: Array<{ infoHash: string; seeders: number; leechers: number; peers: number }>
}

export class SwarmTracker {
  readonly server: Server
  private readonly limiter: AnnounceRateLimiter
  private allowed: Set<string> | null
  private readonly counters = { announces: 0, refusedInfoHash: 0, rateLimited: 0, offersTrimmed: 0, offers: 0, connections: 0 }

  constructor(private readonly config: TrackerConfig = TRACKER_DEFAULTS) {
    this.allowed = config.allowedInfoHashes
    this.limiter = new AnnounceRateLimiter({ burstAnnounces: config.burstAnnouncesPerAddress, announcesPerSec: config.announcesPerSecPerAddress })
    this.server = new Server({
      http: false,
      udp: false,
      stats: false,
      ws: { noServer: true },
      interval: config.announceIntervalMs,
      trustProxy: config.trustProxy,
      filter: (infoHash: string, _params: unknown, callback: (error?: Error) => void) => {
        if (!this.allowed || this.allowed.has(infoHash)) return callback()
        this.counters.refusedInfoHash++
        callback(new Error(`infohash ${infoHash} is not in this site's manifest`))
      },
    })
    this.server.on('warning', () => {}) // client mistakes are answered with a failure reason; not fatal
    this.server.on('error', () => {})
  }

  /** A new build: admit its infohashes from now on (swarms already open stay until they empty). */
  setAllowedInfoHashes(allowed: Set<string> | null): void {
    this.allowed = allowed
  }

  /** Hand a WebSocket upgrade request to the tracker. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.server.ws.handleUpgrade(request, socket, head, (ws: any) => {
      this.counters.connections++
      ws.upgradeReq = request
      this.server.onWebSocketConnection(ws, { trustProxy: this.config.trustProxy })
      this.applyPolicy(ws, this.clientAddress(request))
      ws.on('close', () => this.counters.connections--)
    })
  }

  /** Puts our checks in front of the library's message handler. */
  private applyPolicy(ws: any, address: string): void {
    const libraryHandler = ws.onMessageBound as (data: string) => void
    ws.removeListener('message', libraryHandler)
    ws.on('message', (data: Buffer | string) => {
      let params: any
      try {
        params = JSON.parse(data.toString())
      } catch {
        return libraryHandler(data.toString()) // the library answers with a failure reason
      }
      if (params?.action === 'announce' && !params.answer) {
        this.counters.announces++
        if (!this.limiter.allow(address)) {
          this.counters.rateLimited++
          ws.send(JSON.stringify({ action: 'announce', 'failure reason': 'too many announces from this address; slow down', info_hash: params.info_hash }))
          return
        }
        if (Array.isArray(params.offers)) this.counters.offers += params.offers.length
        if (Array.isArray(params.offers) && params.offers.length > this.config.maxOffersPerAnnounce) {
          this.counters.offersTrimmed += params.offers.length - this.config.maxOffersPerAnnounce
          params.offers = params.offers.slice(0, this.config.maxOffersPerAnnounce)
          params.numwant = Math.min(Number(params.numwant) || 0, this.config.maxOffersPerAnnounce)
        }
      }
      libraryHandler(JSON.stringify(params))
    })
  }

  private clientAddress(request: IncomingMessage): string {
    const forwarded = this.config.trustProxy ? request.headers['x-forwarded-for'] : undefined
    if (typeof forwarded === 'string') return forwarded.split(',')[0].trim()
    return request.socket.remoteAddress ?? 'unknown'
  }

  stats(): TrackerStats {
    const torrents = Object.entries(this.server.torrents).map(([infoHash, swarm]) => ({
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
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/** What a manifest admits at the tracker: its site swarm and, for standard clients, each asset's infohash. */
export function admittedIds(manifest: { assets: Array<{ infoHash: string }>; swarm?: string }): Set<string> {
  const ids = new Set(manifest.assets.map((asset) => asset.infoHash))
  if (manifest.swarm) ids.add(manifest.swarm)
  return ids
}
