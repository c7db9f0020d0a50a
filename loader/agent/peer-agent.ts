// The page's peer agent: this visitor's member of the site swarm (peer/site-swarm.ts), on behalf of the
// service worker. It tells the SW which pieces connected peers hold, fetches the pieces the SW asks
// for, and shares what the SW stored (it reads the shared store; only the SW writes it). It verifies
// nothing for the SW: the SW checks every piece and reports bad ones, and the agent drops their senders.

import { pieceCount } from '../../core/piece-math.ts'
import { MSG_AGENT_REGISTERED } from '../../sw/messages.ts'
import { parseSwMessage, type AgentToSwMessage, type GetPiecesMessage, type SiteMessage } from '../../core/agent-protocol.ts'
import { pieceKey, type PieceStore } from '../../sw/piece-store.ts'
import { createRecentPieces } from '../../sw/recent-pieces.ts'
import { createSiteSwarm, SITE_SWARM_DEFAULTS, type PieceFetch, type SiteSwarm, type TransferCounters } from '../../peer/site-swarm.ts'
import type { CandidatePair } from '../../peer/peer-link.ts'
import type { AgentConfig } from './agent-config.ts'
import type { IndexLister } from './stored-index-lister.ts'

export type AgentEvent =
  | { type: 'piece'; infoHash: string; index: number; bytes: number }
  | { type: 'peer'; peers: number; swarms: number }
  | { type: 'banned'; peerId: string }

export interface AgentStats {
  /** Open WebRTC connections (one per peer, carrying every asset). */
  peers: number
  /** 1 while in the site swarm. */
  swarms: number
  uploadedBytes: number
  downloadedBytes: number
  /** Pieces from peers the SW rejected (never stored, never passed on). */
  rejectedPieces: number
  /** Peers dropped and refused for sending bad pieces. */
  bannedPeers: number
  /** Piece requests to peers: sent, stalled, rejected, cancelled (diagnostics). */
  transfers?: TransferCounters
  /** Credit window per open connection, bytes (diagnostics). */
  windowsBytes?: number[]
}

export interface PeerAgentDeps {
  pieces: PieceStore
  listStored: IndexLister
  config: AgentConfig
  RTCPeerConnection: typeof RTCPeerConnection
  WebSocket: typeof WebSocket
  onEvent?: (event: AgentEvent) => void
}

export interface PeerAgent {
  /** Speaks to the SW on this port from now on; requests of a previous port are dropped. */
  attach(port: MessagePort, onRegistered?: () => void): void
  stats(): AgentStats
  /** The selected ICE candidate pair of each open connection. */
  connections(): Promise<CandidatePair[]>
  destroy(): Promise<void>
}

/** Deliveries remembered so a bad-piece verdict finds the peer that sent it. */
const MAX_REMEMBERED_SENDERS = 1024

/** How long a peer's request waits for the SW's memory before the agent reads IndexedDB instead (an SW that restarted or is busy). */
const SW_READ_TIMEOUT_MS = 1000

export function createPeerAgent(deps: PeerAgentDeps): PeerAgent {
  const { config, pieces } = deps
  const emit = (event: AgentEvent) => {
    try {
      deps.onEvent?.(event)
    } catch {
      // A listener's bug is not the agent's.
    }
  }
  let swarm: SiteSwarm | null = null
  let site: SiteMessage | null = null
  let port: MessagePort | null = null
  let destroyed = false
  let rejectedPieces = 0
  const requests = new Map<number, PieceFetch[]>()
  const recent = createRecentPieces(config.recentPiecesBytes)
  const senders = new Map<string, string>()
  /** read-piece requests to the SW, answered with recent-piece. */
  const swReads = new Map<number, (bytes: ArrayBuffer | null) => void>()
  let nextReadId = 1

  function post(message: AgentToSwMessage, transfer: Transferable[] = []): void {
    if (destroyed) return // closing: what the swarm reports now is not news for the SW
    try {
      port?.postMessage(message, transfer)
    } catch {
      // Port closed: the SW's own deadline covers it.
    }
  }

  /** Connections, settling, and this page's share of a crowd's origin fetches, for the SW. */
  function postSwarmState(): void {
    if (!swarm) return
    post({ type: 'swarm', peers: swarm.stats().peers, settling: swarm.settling(), share: swarm.crowdShare() })
  }

  /** A piece the SW stored lately, from its memory (null: not there, or no answer in time). */
  function readFromSw(infoHash: string, index: number): Promise<Uint8Array | null> {
    if (!port) return Promise.resolve(null)
    const requestId = nextReadId++
    return new Promise((resolve) => {
      const answer = (bytes: ArrayBuffer | null) => {
        clearTimeout(timer)
        swReads.delete(requestId)
        resolve(bytes ? new Uint8Array(bytes) : null)
      }
      const timer = setTimeout(() => answer(null), SW_READ_TIMEOUT_MS)
      swReads.set(requestId, answer)
      post({ type: 'read-piece', requestId, infoHash, index })
    })
  }

  /** A stored piece for a peer: this agent's memory, then the SW's (kept here for the next asker), then IndexedDB. */
  async function readPiece(infoHash: string, index: number): Promise<Uint8Array | undefined> {
    const held = recent.get(infoHash, index)
    if (held) return held
    const fromSw = await readFromSw(infoHash, index)
    if (fromSw) {
      recent.add(infoHash, index, fromSw)
      return fromSw
    }
    return pieces.get(infoHash, index)
  }

  function remember(infoHash: string, index: number, peerId: string): void {
    const key = pieceKey(infoHash, index)
    senders.delete(key)
    senders.set(key, peerId)
    if (senders.size > MAX_REMEMBERED_SENDERS) senders.delete(senders.keys().next().value as string)
  }

  /** Joins the site swarm (or keeps it, when only the assets changed) and shares what the store holds. */
  async function onSite(next: SiteMessage): Promise<void> {
    const sameSwarm = swarm && site && site.swarm === next.swarm && JSON.stringify(site.trackers) === JSON.stringify(next.trackers)
    site = next
    if (!sameSwarm) {
      swarm?.destroy()
      swarm = createSiteSwarm({
        swarmId: next.swarm,
        trackers: next.trackers,
        config: {
          ...SITE_SWARM_DEFAULTS,
          maxPeers: config.maxPeers,
          maxUploadBytesPerSec: config.maxUploadBytesPerSec,
          maxBadPiecesPerPeer: config.maxBadPiecesPerPeer,
          // The page's own setting wins over the site's (build --ice-server), which wins over none.
          iceServers: config.iceServers ?? next.iceServers,
        },
        RTCPeerConnection: deps.RTCPeerConnection,
        WebSocket: deps.WebSocket,
        readPiece,
        onAvailability: (infoHash, indexes, available) => post({ type: 'availability', infoHash, indexes, available }),
        onPeers: (peers) => {
          emit({ type: 'peer', peers, swarms: 1 })
          postSwarmState()
        },
        onSettling: () => postSwarmState(),
      })
    }
    const current = swarm!
    current.setAssets(next.assets)
    // A full snapshot: the SW forgets what it knew of this agent and relearns it.
    post({ type: 'availability', infoHash: '0'.repeat(40), indexes: [], available: true, reset: true })
    for (const asset of next.assets) {
      const indexes = current.availableIndexes(asset.infoHash)
      if (indexes.length > 0) post({ type: 'availability', infoHash: asset.infoHash, indexes, available: true })
    }
    postSwarmState()
    for (const asset of next.assets) {
      if (destroyed || swarm !== current) return
      const stored = await deps.listStored(asset.infoHash, pieceCount(asset.length, asset.pieceLength)).catch(() => [])
      if (stored.length > 0) current.addHave(asset.infoHash, stored)
    }
  }

  function onGetPieces(message: GetPiecesMessage): void {
    const { requestId, infoHash } = message
    const current = swarm
    if (!current) return post({ type: 'unavailable', requestId, indexes: message.indexes })
    const fetches: PieceFetch[] = []
    requests.set(requestId, fetches)
    for (const index of new Set(message.indexes)) {
      const fetch = current.fetchPiece(infoHash, index)
      fetches.push(fetch)
      fetch.promise.then(
        ({ bytes, peerId }) => {
          if (!requests.has(requestId)) return
          remember(infoHash, index, peerId)
          const copy = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer
          post({ type: 'piece', requestId, index, bytes: copy }, [copy])
          emit({ type: 'piece', infoHash, index, bytes: bytes.length })
        },
        () => {
          if (requests.has(requestId)) post({ type: 'unavailable', requestId, indexes: [index] })
        },
      )
    }
  }

  function onMessage(data: unknown, onRegistered?: () => void): void {
    if (destroyed) return
    if ((data as { type?: unknown } | null)?.type === MSG_AGENT_REGISTERED) return onRegistered?.()
    const message = parseSwMessage(data)
    if (!message) return
    switch (message.type) {
      case 'ping':
        return post({ type: 'pong', nonce: message.nonce })
      case 'site':
        return void onSite(message).catch(() => undefined)
      case 'get-pieces':
        return onGetPieces(message)
      case 'cancel': {
        const fetches = requests.get(message.requestId)
        requests.delete(message.requestId)
        return fetches?.forEach((fetch) => fetch.cancel())
      }
      case 'stored':
        message.pieces?.forEach((bytes, i) => bytes && recent.add(message.infoHash, message.indexes[i]!, new Uint8Array(bytes)))
        return swarm?.addHave(message.infoHash, message.indexes)
      case 'recent-piece':
        return swReads.get(message.requestId)?.(message.bytes)
      case 'bad-piece': {
        rejectedPieces++
        const peerId = senders.get(pieceKey(message.infoHash, message.index))
        if (!peerId || !swarm) return
        const before = swarm.stats().bannedPeers
        swarm.reportBadPiece(peerId)
        if (swarm.stats().bannedPeers > before) emit({ type: 'banned', peerId })
        return
      }
    }
  }

  function dropRequests(): void {
    for (const fetches of requests.values()) for (const fetch of fetches) fetch.cancel()
    requests.clear()
    for (const answer of [...swReads.values()]) answer(null) // the old port will not answer: IndexedDB
  }

  return {
    attach(next, onRegistered) {
      if (port && port !== next) {
        dropRequests() // the old port can no longer be answered
        port.onmessage = null
        port.close()
      }
      port = next
      next.onmessage = (event) => onMessage(event.data, onRegistered)
    },
    stats() {
      const s = swarm?.stats()
      return {
        peers: s?.peers ?? 0,
        swarms: swarm ? 1 : 0,
        uploadedBytes: s?.uploadedBytes ?? 0,
        downloadedBytes: s?.downloadedBytes ?? 0,
        rejectedPieces,
        bannedPeers: s?.bannedPeers ?? 0,
        transfers: s?.transfers,
        windowsBytes: swarm?.peers().map((peer) => peer.windowBytes),
      }
    },
    connections: () => swarm?.connections() ?? Promise.resolve([]),
    async destroy() {
      if (destroyed) return
      destroyed = true
      dropRequests()
      swarm?.destroy()
      swarm = null
      if (port) {
        port.onmessage = null
        port.close()
        port = null
      }
    },
  }
}
