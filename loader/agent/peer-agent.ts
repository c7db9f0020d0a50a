// The page's peer agent: a WebTorrent client that fetches pieces from peers for the SW and seeds what the
// shared store holds. It speaks agent-protocol.ts on the port the page registered with the SW.
//
// Bounded: at most maxActiveSwarms swarms (least-recently-used left first), at most maxConnsPerSwarm
// WebRTC connections in each (incoming offers beyond the cap are refused, outgoing offers are asked only
// for the free slots), an upload rate limit. Nothing here verifies for the SW: it verifies again.

import { pieceCount } from '../../core/piece-math.ts'
import type { ManifestAsset } from '../../core/manifest-format.ts'
import { MSG_AGENT_REGISTERED, type AgentRegisteredReply } from '../../sw/messages.ts'
import { parseSwMessage, type AgentToSwMessage, type GetPiecesMessage } from '../../sw/agent-protocol.ts'
import type { PieceStore } from '../../sw/piece-store.ts'
import type { WebTorrentTorrent, WebTorrentWire } from 'webtorrent/dist/webtorrent.min.js'
import type { AgentConfig } from './agent-config.ts'
import { createBadPeerTracker, failedPieceIndex } from './bad-peer-tracker.ts'
import { assetInfoHash, encodeAssetTorrent } from './asset-torrent.ts'
import { createPieceRequests, type Outcome, type Unavailable } from './piece-requests.ts'
import { bitfieldOf, createSharedChunkStoreClass } from './shared-piece-chunk-store.ts'
import type { IndexLister } from './stored-index-lister.ts'
import { createSwarmLru } from './swarm-lru.ts'
import { selectedCandidatePair, type ConnectionInfo } from './selected-candidate-pair.ts'

/** The part of a WebTorrent client the agent uses (injected, so only agent-entry.ts imports webtorrent). */
export interface TorrentClient {
  torrents: WebTorrentTorrent[]
  add(torrent: Uint8Array, opts: Record<string, unknown>): WebTorrentTorrent
  destroy(cb?: (err?: Error | null) => void): void
  on(event: 'upload' | 'download', listener: (bytes: number) => void): unknown
  on(event: 'error' | 'warning', listener: (error: Error | string) => void): unknown
}

export type AgentEvent =
  | { type: 'piece'; infoHash: string; index: number; bytes: number }
  | { type: 'peer'; peers: number; swarms: number }
  | { type: 'banned'; peerId: string }
  | { type: 'refused'; infoHash: string; reason: string }

export interface AgentStats {
  /** Open WebRTC connections, all swarms. */
  peers: number
  swarms: number
  uploadedBytes: number
  downloadedBytes: number
  /** Pieces from peers that failed webtorrent's hash check (never stored, never passed on). */
  rejectedPieces: number
  /** Peers dropped and refused for sending bad pieces. */
  bannedPeers: number
}

export interface PeerAgentDeps {
  createClient: (options: Record<string, unknown>) => TorrentClient
  pieces: PieceStore
  listStored: IndexLister
  config: AgentConfig
  now?: () => number
  setTimer?: (callback: () => void, ms: number) => () => void
  onEvent?: (event: AgentEvent) => void
}

export interface PeerAgent {
  /** Speaks to the SW on this port from now on; requests of a previous port are dropped. */
  attach(port: MessagePort, onRegistered?: (reply: AgentRegisteredReply) => void): void
  stats(): AgentStats
  /** ICE servers for connections made from now on (the manifest's, when the page set none). */
  setIceServers(servers: RTCIceServer[]): void
  /** The selected candidate pair of each open WebRTC connection. */
  connections(): Promise<ConnectionInfo[]>
  destroy(): Promise<void>
}

export type AgentErrorCode = 'agent-infohash-mismatch' | 'agent-swarm-left' | 'agent-destroyed'

export class AgentError extends Error {
  readonly code: AgentErrorCode
  constructor(code: AgentErrorCode, message: string) {
    super(message)
    this.name = 'AgentError'
    this.code = code
  }
}

interface Swarm {
  asset: ManifestAsset
  joinedAtMs: number
  torrent: WebTorrentTorrent | null
  ready: Promise<WebTorrentTorrent>
  left: boolean
  /** Pieces the SW stored before the torrent was ready. */
  pendingHave: Set<number>
  /** The tracker said nobody else is in the swarm (and no wire is open): waiting for peers is pointless. */
  alone: boolean
  cancelSweep?: () => void
}

const defaultSetTimer = (callback: () => void, ms: number) => {
  const timer = setTimeout(callback, ms)
  return () => clearTimeout(timer)
}

export function createPeerAgent(deps: PeerAgentDeps): PeerAgent {
  const { config, pieces } = deps
  const now = deps.now ?? Date.now
  const setTimer = deps.setTimer ?? defaultSetTimer
  const emit = (event: AgentEvent) => {
    try {
      deps.onEvent?.(event)
    } catch {
      // A listener's bug is not the agent's.
    }
  }

  // One object, held by reference down to every simple-peer: setIceServers() changes later connections.
  const rtcConfig: RTCConfiguration = { iceServers: config.iceServers }
  const client = deps.createClient({
    dht: false,
    lsd: false,
    utPex: false,
    webSeeds: false,
    natUpnp: false,
    natPmp: false,
    maxConns: config.maxConnsPerSwarm,
    uploadLimit: config.maxUploadBytesPerSec,
    tracker: { rtcConfig },
  })
  client.on('error', () => undefined) // per-torrent errors are handled per swarm; never throw into the page
  client.on('warning', () => undefined)
  let uploadedBytes = 0
  let downloadedBytes = 0
  let rejectedPieces = 0
  let bannedPeers = 0
  client.on('upload', (bytes) => (uploadedBytes += bytes))
  client.on('download', (bytes) => (downloadedBytes += bytes))

  const SharedStore = createSharedChunkStoreClass(pieces)
  const swarms = new Map<string, Swarm>()
  const lru = createSwarmLru(config.maxActiveSwarms)
  let requests = createPieceRequests()
  const badPeers = createBadPeerTracker({ maxBadPiecesPerPeer: config.maxBadPiecesPerPeer })
  const knownAssets = new Map<string, { asset: ManifestAsset; trackers: string[] }>()
  let port: MessagePort | null = null
  let destroyed = false

  const key = (infoHash: string, index: number) => `${infoHash}:${index}`
  /** True while markHad marks a piece found in the store (its 'verified' event is not a download). */
  let markingLocal = false

  function post(message: AgentToSwMessage, transfer: Transferable[] = []): void {
    try {
      port?.postMessage(message, transfer)
    } catch {
      // Port closed: the SW's deadline covers it.
    }
  }

  function report(outcome: Outcome & { unavailable?: Unavailable[] }, swarm?: Swarm): void {
    for (const { requestId, indexes } of outcome.unavailable ?? []) post({ type: 'unavailable', requestId, indexes })
    for (const requestId of outcome.finished) post({ type: 'end', requestId })
    const torrent = swarm?.torrent
    if (!torrent || torrent.destroyed) return
    for (const index of outcome.released) {
      try {
        torrent.deselect(index, index)
        torrent._critical[index] = false
      } catch {
        // Already gone.
      }
    }
  }

  function peerCount(): number {
    return client.torrents.reduce((sum, torrent) => sum + torrent.numPeers, 0)
  }

  function emitPeers(): void {
    emit({ type: 'peer', peers: peerCount(), swarms: swarms.size })
  }

  // ---- pieces had → SW ---------------------------------------------------------------------------

  /**
   * The swarm has piece `index`: send it to the requests waiting. `local` when it was found in the shared
   * store (another tab or the SW stored it), so the SW counts it as store bytes, not peer bytes.
   */
  function onHad(swarm: Swarm, index: number, local = false): void {
    const infoHash = swarm.asset.infoHash
    badPeers.verified(key(infoHash, index))
    const outcome = requests.delivered(infoHash, index)
    if (outcome.to.length === 0) return
    readPiece(swarm, index).then((bytes) => {
      for (const requestId of outcome.to) {
        if (bytes) {
          const copy = bytes.slice().buffer // each message transfers its own buffer
          post(local ? { type: 'piece', requestId, index, bytes: copy, local } : { type: 'piece', requestId, index, bytes: copy }, [copy])
        } else {
          post({ type: 'unavailable', requestId, indexes: [index] })
        }
      }
      if (bytes) emit({ type: 'piece', infoHash, index, bytes: bytes.length })
      report({ finished: outcome.finished, released: [] }, swarm)
    })
  }

  function readPiece(swarm: Swarm, index: number): Promise<Uint8Array | undefined> {
    const store = swarm.torrent?.store
    if (!store || swarm.torrent?.destroyed) return pieces.get(swarm.asset.infoHash, index).catch(() => undefined)
    return new Promise((resolve) => {
      try {
        store.get(index, {}, (error, buf) => resolve(error || !buf ? undefined : buf))
      } catch {
        resolve(undefined)
      }
    })
  }

  /** Marks a piece had without hashing it (it was verified before it was stored) and tells the peers. */
  function markHad(swarm: Swarm, index: number): void {
    const torrent = swarm.torrent
    if (!torrent || torrent.destroyed || !torrent.bitfield || index >= torrent.pieces.length) return
    if (torrent.bitfield.get(index)) return
    markingLocal = true
    try {
      torrent._markVerified(index) // emits 'verified' → onHad, as a local piece
    } finally {
      markingLocal = false
    }
    for (const wire of torrent.wires) if (!wire.destroyed) wire.have(index)
  }

  // ---- availability ------------------------------------------------------------------------------

  /** Gives up on pieces no wire has, for requests whose wait is over (all of them with atMs = Infinity). */
  function sweep(swarm: Swarm, atMs?: number): void {
    const torrent = swarm.torrent
    if (!torrent || swarm.left) return
    swarm.cancelSweep?.()
    swarm.cancelSweep = undefined
    const infoHash = swarm.asset.infoHash
    const nowMs = atMs ?? now()
    const outcome = requests.sweep(infoHash, nowMs, (index) => torrent.wires.some((wire) => !wire.destroyed && wire.peerPieces.get(index)))
    report(outcome, swarm)
    const next = requests.nextWaitEndMs(infoHash, nowMs)
    if (next !== undefined && Number.isFinite(nowMs)) swarm.cancelSweep = setTimer(() => sweep(swarm), next - nowMs)
  }

  // ---- swarms ------------------------------------------------------------------------------------

  function leave(infoHash: string): void {
    const swarm = swarms.get(infoHash)
    swarms.delete(infoHash)
    lru.delete(infoHash)
    if (!swarm) return
    swarm.left = true
    swarm.cancelSweep?.()
    report(requests.dropSwarm(infoHash), swarm)
    swarm.torrent?.destroy({ destroyStore: false })
    emitPeers()
  }

  /** The asset's swarm, joined if needed (leaving the least-recently-used one beyond the cap). */
  function join(asset: ManifestAsset, trackers: string[], knownStored?: number[]): Swarm {
    const infoHash = asset.infoHash
    for (const evicted of lru.touch(infoHash, (k) => requests.isBusy(k))) leave(evicted)
    const existing = swarms.get(infoHash)
    if (existing) return existing
    const swarm: Swarm = { asset, joinedAtMs: now(), torrent: null, left: false, pendingHave: new Set(), alone: false, ready: Promise.resolve(null as never) }
    swarms.set(infoHash, swarm)
    swarm.ready = addTorrent(swarm, trackers, knownStored)
    swarm.ready.catch((error: unknown) => {
      if (swarm.left) return
      emit({ type: 'refused', infoHash, reason: error instanceof Error ? error.message : String(error) })
      leave(infoHash)
    })
    return swarm
  }

  async function addTorrent(swarm: Swarm, trackers: string[], knownStored?: number[]): Promise<WebTorrentTorrent> {
    const { asset } = swarm
    // The manifest's infohash must be what these bytes hash to, or we would join (and feed) another swarm.
    if ((await assetInfoHash(asset)) !== asset.infoHash) throw new AgentError('agent-infohash-mismatch', `infohash of ${asset.path} does not match the manifest`)
    const count = pieceCount(asset.length, asset.pieceLength)
    const stored = knownStored ?? (await deps.listStored(asset.infoHash, count))
    if (swarm.left || destroyed) throw new AgentError('agent-swarm-left', 'swarm left while joining')
    const torrent = client.add(encodeAssetTorrent(asset, trackers), {
      deselect: true,
      store: SharedStore,
      storeOpts: { infoHash: asset.infoHash },
      storeCacheSlots: 4,
      // Pieces in the shared store were verified before they were stored: webtorrent hashes one to check.
      bitfield: bitfieldOf(stored, count),
      // Offers only for free connection slots (the tracker client sends at most 5 per announce anyway).
      getAnnounceOpts: () => ({ numwant: Math.max(0, config.maxConnsPerSwarm - (swarm.torrent?.numPeers ?? 0)) }),
    })
    swarm.torrent = torrent
    capConnections(torrent)
    watchTrackerCounts(swarm, torrent)
    watch(swarm, torrent)
    await new Promise<void>((resolve, reject) => {
      if (torrent.ready) return resolve()
      torrent.once('ready', () => resolve())
      torrent.once('error', (error: unknown) => reject(error))
    })
    if (torrent.infoHash !== asset.infoHash) throw new AgentError('agent-infohash-mismatch', `webtorrent parsed infohash ${torrent.infoHash}`)
    for (const index of swarm.pendingHave) markHad(swarm, index)
    swarm.pendingHave.clear()
    return torrent
  }

  /** webtorrent caps only TCP peers by maxConns; WebRTC peers from the tracker are capped here. */
  function capConnections(torrent: WebTorrentTorrent): void {
    const addPeer = torrent.addPeer.bind(torrent)
    torrent.addPeer = (peer: unknown, source?: unknown) => {
      if (typeof peer === 'object' && peer !== null && torrent._peersLength >= config.maxConnsPerSwarm) {
        try {
          ;(peer as { destroy(): void }).destroy()
        } catch {
          // Already closed.
        }
        return false
      }
      return addPeer(peer, source)
    }
  }

  /**
   * A lone visitor must not wait peerWaitMs for peers that do not exist: the tracker's announce reply
   * counts the swarm, so when it holds only us the waiting requests are answered `unavailable` at once.
   * The tracker client exists only once webtorrent starts discovery, hence the wrap.
   */
  function watchTrackerCounts(swarm: Swarm, torrent: WebTorrentTorrent): void {
    const onUpdate = (data: { complete?: number; incomplete?: number }) => {
      const inSwarm = (data.complete ?? 0) + (data.incomplete ?? 0)
      swarm.alone = inSwarm <= 1 && torrent.wires.length === 0
      if (swarm.alone) sweep(swarm, Number.POSITIVE_INFINITY)
    }
    const attach = () => torrent.discovery?.tracker?.on?.('update', onUpdate)
    if (torrent.discovery) return void attach()
    if (typeof torrent._startDiscovery !== 'function') return // not webtorrent as we know it: just wait peerWaitMs
    const startDiscovery = torrent._startDiscovery.bind(torrent)
    torrent._startDiscovery = () => {
      startDiscovery()
      attach()
    }
  }

  function watch(swarm: Swarm, torrent: WebTorrentTorrent): void {
    const infoHash = swarm.asset.infoHash
    torrent.on('error', () => undefined) // handled by the ready promise / leave
    torrent.on('verified', (index) => onHad(swarm, index, markingLocal))
    torrent.on('warning', (warning) => {
      const index = failedPieceIndex(warning)
      if (index === null) return
      rejectedPieces++
      ban(badPeers.failed(key(infoHash, index)))
    })
    torrent.on('wire', (wire: WebTorrentWire) => {
      const peerId = wire.peerId
      if ((peerId && badPeers.isBanned(peerId)) || torrent.wires.length > config.maxConnsPerSwarm) {
        wire.destroy()
        return
      }
      swarm.alone = false
      wire.on('piece', (index: number) => {
        if (wire.peerId) badPeers.contributed(key(infoHash, index), wire.peerId)
      })
      wire.once('close', () => {
        emitPeers()
        queueMicrotask(() => sweep(swarm)) // pieces only that peer had are now unavailable
      })
      // New peers may have what the SW waits for; nothing to do until the wait ends (sweep).
      emitPeers()
    })
  }

  function ban(peerIds: string[]): void {
    for (const peerId of peerIds) {
      bannedPeers++
      emit({ type: 'banned', peerId })
      for (const torrent of client.torrents) for (const wire of torrent.wires) if (wire.peerId === peerId) wire.destroy()
    }
  }

  // ---- messages from the SW ----------------------------------------------------------------------

  async function onGetPieces(message: GetPiecesMessage): Promise<void> {
    const { requestId, asset, trackers } = message
    const count = pieceCount(asset.length, asset.pieceLength)
    if (!(count > 0) || typeof asset.infoHash !== 'string') return post({ type: 'end', requestId })
    const indexes = [...new Set(message.indexes)].filter((index) => index < count)
    knownAssets.set(asset.infoHash, { asset, trackers })
    const swarm = join(asset, trackers)
    requests.add(requestId, asset.infoHash, indexes, swarm.alone ? 0 : swarm.joinedAtMs + config.peerWaitMs)
    let torrent: WebTorrentTorrent
    try {
      torrent = await swarm.ready
    } catch {
      return // leave() already answered the request
    }
    if (swarm.left || torrent.destroyed) return
    const waiting = [...requests.wanted(asset.infoHash)].filter((index) => indexes.includes(index))
    // Another tab (or the SW) may have stored some since the swarm was joined: the store before peers.
    const inStore = await Promise.all(waiting.map((index) => (torrent.bitfield?.get(index) ? true : pieces.has(asset.infoHash, index))))
    if (swarm.left || torrent.destroyed) return
    waiting.forEach((index, i) => {
      if (torrent.bitfield?.get(index)) onHad(swarm, index, true)
      else if (inStore[i]) markHad(swarm, index)
      else if (requests.wanted(asset.infoHash).has(index)) {
        torrent.select(index, index, 1)
        torrent.critical(index, index)
      }
    })
    sweep(swarm)
  }

  function onStored(infoHash: string, indexes: number[]): void {
    const swarm = swarms.get(infoHash)
    if (swarm) {
      if (swarm.torrent?.ready) for (const index of indexes) markHad(swarm, index)
      else for (const index of indexes) swarm.pendingHave.add(index)
      return
    }
    // Seed pieces fetched over HTTP at once, if a swarm slot is free (never evict for seeding).
    const known = knownAssets.get(infoHash)
    if (known && lru.size < config.maxActiveSwarms) join(known.asset, known.trackers)
  }

  async function onSeed(assets: ManifestAsset[], trackers: string[]): Promise<void> {
    for (const asset of assets) {
      if (asset && typeof asset.infoHash === 'string') knownAssets.set(asset.infoHash, { asset, trackers })
    }
    for (const asset of assets) {
      if (destroyed || lru.size >= config.maxActiveSwarms) return
      if (!asset || swarms.has(asset.infoHash)) continue
      const count = pieceCount(asset.length, asset.pieceLength)
      if (!(count > 0)) continue
      const stored = await deps.listStored(asset.infoHash, count).catch(() => [])
      if (stored.length > 0 && !swarms.has(asset.infoHash) && lru.size < config.maxActiveSwarms) join(asset, trackers, stored)
    }
  }

  function onMessage(data: unknown, onRegistered?: (reply: AgentRegisteredReply) => void): void {
    if (destroyed) return
    if ((data as { type?: unknown } | null)?.type === MSG_AGENT_REGISTERED) return onRegistered?.(data as AgentRegisteredReply)
    const message = parseSwMessage(data)
    if (!message) return
    switch (message.type) {
      case 'ping':
        return post({ type: 'pong', nonce: message.nonce })
      case 'get-pieces':
        return void onGetPieces(message).catch(() => post({ type: 'end', requestId: message.requestId }))
      case 'cancel': {
        const outcome = requests.cancel(message.requestId)
        return report(outcome, outcome.infoHash ? swarms.get(outcome.infoHash) : undefined)
      }
      case 'stored':
        return onStored(message.infoHash, message.indexes)
      case 'seed':
        return void onSeed(message.assets, message.trackers).catch(() => undefined)
      case 'bad-piece':
        return ban(badPeers.failed(key(message.infoHash, message.index)))
    }
  }

  return {
    attach(next, onRegistered) {
      if (port && port !== next) {
        // Requests of the old port can no longer be answered: drop them (and their selections).
        const old = requests
        requests = createPieceRequests()
        for (const infoHash of old.infoHashes()) {
          const outcome = old.dropSwarm(infoHash)
          const torrent = swarms.get(infoHash)?.torrent
          if (torrent && !torrent.destroyed) for (const index of outcome.released) torrent.deselect(index, index)
        }
        port.onmessage = null
        port.close()
      }
      port = next
      next.onmessage = (event) => onMessage(event.data, onRegistered)
    },
    stats: () => ({ peers: peerCount(), swarms: swarms.size, uploadedBytes, downloadedBytes, rejectedPieces, bannedPeers }),
    setIceServers(servers) {
      rtcConfig.iceServers = servers
    },
    async connections() {
      const open = new Set<RTCPeerConnection>()
      for (const torrent of client.torrents) {
        for (const peer of torrent._peers?.values() ?? []) {
          const pc = peer.conn?._pc
          if (pc && pc.connectionState === 'connected') open.add(pc)
        }
      }
      const pairs = await Promise.all([...open].map((pc) => selectedCandidatePair(pc).catch(() => null)))
      return pairs.filter((pair): pair is ConnectionInfo => pair !== null)
    },
    destroy() {
      if (destroyed) return Promise.resolve()
      destroyed = true
      for (const infoHash of [...swarms.keys()]) leave(infoHash)
      if (port) {
        port.onmessage = null
        port.close()
        port = null
      }
      return new Promise((resolve) => client.destroy(() => resolve()))
    },
  }
}
