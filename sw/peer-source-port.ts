// The SW's view of the site swarm, through the page agents' MessagePorts (core/agent-protocol.ts).
// Each agent reports which pieces its connected peers hold; the scheduler (piece-scheduler.ts) asks
// for a piece only an agent that can get it, the requesting page's own first. A piece no agent can
// get is never waited for: it goes to HTTP at once.

import type { ManifestAsset } from '../core/manifest-format.ts'
import type { AgentRegistry } from './agent-registry.ts'
import { parseAgentMessage, type AgentToSwMessage, type CrowdShare, type SiteMessage, type SwToAgentMessage } from '../core/agent-protocol.ts'
import { pieceKey } from './piece-store.ts'

export interface PeerPieceRequest {
  /** The piece's (unverified) bytes; rejects when the agent could not get it. */
  promise: Promise<Uint8Array>
  cancel(): void
}

/** What the scheduler needs from peers. A second implementation lives in the unit tests. */
export interface PeerPieces {
  /** Some agent (the requesting page's first) can get this piece from a connected peer now. */
  has(infoHash: string, index: number, clientId?: string): boolean
  /**
   * Whether the requesting page is in a crowd: its agent is connecting (unless the trackers just
   * counted nobody), or some agent has peers. False for a visitor alone (no agent, P2P off, or the
   * tracker knows nobody else).
   */
  crowd(clientId?: string): boolean
  /**
   * The requesting page's agent is about to know what its peers hold: the page has just navigated and
   * its agent has not registered yet, or it is still connecting to the peers the tracker named.
   */
  settling(clientId?: string): boolean
  /**
   * Whether HTTP waits for the requesting page's peers: it is settling, and the trackers have not just
   * counted nobody in the swarm (swarm-probe.ts). Counted alone, a page plans as a visitor alone
   * (`crowd` is false) but still takes the piece path (`settling`): what it fetches is stored and
   * shared at once with visitors arriving after it.
   */
  holds(clientId?: string): boolean
  /** The requesting page's share of a crowd's origin fetches (core/crowd-share.ts); null when alone or unknown. */
  share(clientId?: string): CrowdShare | null
  request(asset: ManifestAsset, index: number, clientId?: string): PeerPieceRequest
  /** The verdict on a piece a request delivered: a bad one counts against the peer that sent it. */
  verdict(asset: ManifestAsset, index: number, ok: boolean): void
  /** Called whenever an agent learns of pieces newly available (infoHash) or stops settling (null); returns an unsubscribe function. */
  onAvailable(listener: (infoHash: string | null) => void): () => void
}

/** Telling the agents what the SW stored. */
export interface StoredAnnouncer {
  /**
   * Every agent learns the indexes. An agent with connected peers none of which holds a piece also
   * gets its bytes, to serve from memory: a fresh piece in a crowd is wanted by its peers at once,
   * and the agent's IndexedDB reads queue behind the SW's writes (measured in a crowd of 8: 2-5 s per
   * piece; asking the SW for them instead took seconds too, the SW being that busy). Anywhere else the
   * bytes are not sent: they cost a visitor alone 1-2 s of CPU per 20 MB page (bench:net, fast
   * origin), for pieces nobody asked for; a peer that asks for one after all is served through
   * `read-piece`.
   */
  notifyStored(infoHash: string, stored: ReadonlyArray<{ index: number; bytes: Uint8Array }>): void
}

/** The trackers' count of the swarm, taken by the SW as a page starts loading (swarm-probe.ts). */
export interface SwarmCountSink {
  /** Whether a count is worth taking now: nothing here says the swarm has members, and no count is fresh. */
  wantsCount(): boolean
  /** The trackers counted this many members (null: unknown). Nobody ends every hold for peers at once (`holds`). */
  noteCount(count: number | null): void
}

export interface PortPeerPiecesOptions {
  agents: AgentRegistry
  /** A piece the SW stored lately, from its memory, for an agent's `read-piece` (stored-notifier.ts). Default none: agents read IndexedDB. */
  recentPiece?: (infoHash: string, index: number) => Uint8Array | undefined
  /** Whether the site has a swarm at all (the manifest names one, with trackers). Default always: without one, agents never settle and nobody may wait for them. */
  enabled?: () => boolean
  /** An agent silent for longer than this is pinged when asked for pieces. Default 2000 ms: a page that left without saying so costs a request at most the ping timeout. */
  pingAfterIdleMs?: number
  /** An agent that does not answer a ping within this time is suspected dead. Default 750 ms. */
  pingTimeoutMs?: number
  now?: () => number
}

interface PortState {
  settling: boolean
  peers: number
  share: CrowdShare | null
  available: Map<string, Set<number>>
  lastMessageMs: number
  suspect: boolean
  pingNonce: number | null
  pending: Map<number, Pending>
}

interface Pending {
  index: number
  resolve(bytes: Uint8Array): void
  reject(error: Error): void
}

const MAX_REMEMBERED_DELIVERIES = 512
/**
 * How long the trackers' "nobody there" stands: the hold of the page that asked, and of its first
 * requests, not the pages after it (each navigation counts again while nothing says otherwise).
 */
const EMPTY_COUNT_FRESH_MS = 5_000

function post(port: MessagePort, message: SwToAgentMessage, transfer: Transferable[] = []): void {
  try {
    port.postMessage(message, transfer)
  } catch {
    // A closed port: its requests fail through the ping check or the scheduler's deadline.
  }
}

export function createPortPeerPieces(options: PortPeerPiecesOptions): PeerPieces & StoredAnnouncer & SwarmCountSink & { stateOf(port: MessagePort): void } {
  const { agents } = options
  const now = options.now ?? Date.now
  const pingAfterIdleMs = options.pingAfterIdleMs ?? 2_000
  const pingTimeoutMs = options.pingTimeoutMs ?? 750
  const enabled = options.enabled ?? (() => true)
  const states = new WeakMap<MessagePort, PortState>()
  const listeners = new Set<(infoHash: string | null) => void>()
  const deliveredBy = new Map<string, MessagePort>()
  let nextRequestId = 1
  let nextNonce = 1
  /** Peers of the last agent that settled; null before any did. */
  let lastKnownPeers: number | null = null
  /** When the trackers last counted nobody in the swarm; -Infinity once an agent has found peers. */
  let countedEmptyAt = -Infinity
  const countedEmpty = () => now() - countedEmptyAt < EMPTY_COUNT_FRESH_MS
  const agentsWithPeers = () => agents.clientIds().some((id) => (states.get(agents.get(id)!)?.peers ?? 0) > 0)

  function stateOf(port: MessagePort): PortState {
    let state = states.get(port)
    if (state) return state
    const fresh: PortState = { settling: true, peers: 0, share: null, available: new Map(), lastMessageMs: now(), suspect: false, pingNonce: null, pending: new Map() }
    states.set(port, fresh)
    port.addEventListener('message', (event) => onMessage(port, fresh, parseAgentMessage((event as MessageEvent).data)))
    port.start()
    return fresh
  }

  function onMessage(port: MessagePort, state: PortState, message: AgentToSwMessage | null): void {
    state.lastMessageMs = now()
    state.suspect = false
    if (!message) return
    switch (message.type) {
      case 'pong':
        if (message.nonce === state.pingNonce) state.pingNonce = null
        return
      case 'swarm': {
        const was = state.settling
        state.settling = message.settling
        state.peers = message.peers
        state.share = message.share ?? null
        // Alone only if the agent settled with nobody; a leaving page's agent reports 0 as it closes.
        if (message.peers > 0) {
          lastKnownPeers = message.peers
          countedEmptyAt = -Infinity
        } else if (was && !message.settling) lastKnownPeers = 0
        if (was && !message.settling) for (const listener of listeners) listener(null)
        return
      }
      case 'availability': {
        if (message.reset) return state.available.clear()
        let set = state.available.get(message.infoHash)
        if (!set) state.available.set(message.infoHash, (set = new Set()))
        for (const index of message.indexes) message.available ? set.add(index) : set.delete(index)
        if (message.available) for (const listener of listeners) listener(message.infoHash)
        return
      }
      case 'piece': {
        const pending = state.pending.get(message.requestId)
        if (!pending || pending.index !== message.index) return
        state.pending.delete(message.requestId)
        pending.resolve(new Uint8Array(message.bytes))
        return
      }
      case 'unavailable': {
        const pending = state.pending.get(message.requestId)
        if (!pending) return
        state.pending.delete(message.requestId)
        pending.reject(new Error('unavailable'))
        return
      }
      case 'read-piece': {
        // A copy, transferred: the memory's own buffer stays here.
        const bytes = options.recentPiece?.(message.infoHash, message.index)?.slice().buffer ?? null
        return post(port, { type: 'recent-piece', requestId: message.requestId, bytes }, bytes ? [bytes] : [])
      }
    }
  }

  /** Agents able to get the piece now, the requesting page's first; suspects last. */
  function portsWith(infoHash: string, index: number, clientId?: string): MessagePort[] {
    const ids = agents.clientIds()
    const ordered = clientId && ids.includes(clientId) ? [clientId, ...ids.filter((id) => id !== clientId)] : ids
    const found: MessagePort[] = []
    const suspects: MessagePort[] = []
    for (const id of ordered) {
      const port = agents.get(id)
      const state = port && states.get(port)
      if (!port || !state?.available.get(infoHash)?.has(index)) continue
      ;(state.suspect ? suspects : found).push(port)
    }
    return [...found, ...suspects]
  }

  /** Pings an agent that has been quiet; no pong in time → suspect, and its requests fail (HTTP takes over). */
  function checkAlive(port: MessagePort, state: PortState): void {
    if (state.pingNonce !== null || now() - state.lastMessageMs < pingAfterIdleMs) return
    const nonce = nextNonce++
    state.pingNonce = nonce
    const sentAt = now()
    post(port, { type: 'ping', nonce })
    setTimeout(() => {
      if (state.pingNonce !== nonce) return
      state.pingNonce = null
      if (state.lastMessageMs > sentAt) return
      state.suspect = true
      for (const [requestId, pending] of state.pending) {
        state.pending.delete(requestId)
        pending.reject(new Error('agent silent'))
      }
    }, pingTimeoutMs)
  }

  return {
    stateOf: (port) => void stateOf(port),
    has: (infoHash, index, clientId) => enabled() && portsWith(infoHash, index, clientId).length > 0,
    crowd(clientId) {
      if (!enabled()) return false
      if (this.holds(clientId)) return true
      return agentsWithPeers()
    },
    settling(clientId) {
      if (!enabled()) return false
      // Media requests may come without a client id: then any page still connecting counts.
      if (!clientId) {
        if (agents.navigationPending()) return true
        return agents.clientIds().some((id) => {
          const state = states.get(agents.get(id)!)
          return !state || (state.settling && !state.suspect)
        })
      }
      const port = agents.get(clientId)
      // A page whose agent has not started: worth waiting for only if the last agent here had peers
      // (a visitor alone in the swarm would wait for nothing).
      if (!port) return agents.mayRegister(clientId) && lastKnownPeers !== 0
      // An agent still connecting is waited for even so: "the last agent was alone" is a weak sign
      // while it connects (tried: a Firefox visitor then took its whole gallery from the origin with a
      // peer online).
      const state = states.get(port)
      return !state || (state.settling && !state.suspect)
    },
    holds(clientId) {
      return !countedEmpty() && this.settling(clientId)
    },
    share(clientId) {
      const port = clientId && enabled() ? agents.get(clientId) : undefined
      const share = port ? states.get(port)?.share : null
      return share && share.of > 1 ? share : null
    },
    request(asset, index, clientId) {
      const port = portsWith(asset.infoHash, index, clientId)[0]
      if (!port) return { promise: Promise.reject(new Error('unavailable')), cancel: () => undefined }
      const state = stateOf(port)
      const requestId = nextRequestId++
      let settled = false
      const promise = new Promise<Uint8Array>((resolve, reject) => {
        state.pending.set(requestId, {
          index,
          resolve: (bytes) => {
            settled = true
            deliveredBy.delete(pieceKey(asset.infoHash, index))
            deliveredBy.set(pieceKey(asset.infoHash, index), port)
            if (deliveredBy.size > MAX_REMEMBERED_DELIVERIES) deliveredBy.delete(deliveredBy.keys().next().value as string)
            resolve(bytes)
          },
          reject: (error) => {
            settled = true
            reject(error)
          },
        })
      })
      promise.catch(() => undefined)
      post(port, { type: 'get-pieces', requestId, infoHash: asset.infoHash, indexes: [index] })
      checkAlive(port, state)
      return {
        promise,
        cancel() {
          if (settled) return
          settled = true
          state.pending.get(requestId)?.reject(new Error('cancelled'))
          state.pending.delete(requestId)
          post(port, { type: 'cancel', requestId })
        },
      }
    },
    verdict(asset, index, ok) {
      const key = pieceKey(asset.infoHash, index)
      const port = deliveredBy.get(key)
      deliveredBy.delete(key)
      if (port && !ok) post(port, { type: 'bad-piece', infoHash: asset.infoHash, index })
    },
    wantsCount: () => enabled() && !((lastKnownPeers ?? 0) > 0) && !agentsWithPeers() && !countedEmpty(),
    noteCount(count) {
      if (count !== 0 || agentsWithPeers()) return
      countedEmptyAt = now()
      for (const listener of listeners) listener(null)
    },
    onAvailable(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    notifyStored(infoHash, stored) {
      if (stored.length === 0) return
      const indexes = stored.map((piece) => piece.index)
      for (const clientId of agents.clientIds()) {
        const port = agents.get(clientId)
        if (!port) continue
        const state = states.get(port)
        const held = state?.available.get(infoHash)
        const wanted = !!state && state.peers > 0 && stored.some((piece) => !held?.has(piece.index))
        if (!wanted) {
          post(port, { type: 'stored', infoHash, indexes })
          continue
        }
        const pieces = stored.map((piece) => (held?.has(piece.index) ? null : (piece.bytes.slice().buffer as ArrayBuffer)))
        post(port, { type: 'stored', infoHash, indexes, pieces }, pieces.filter((bytes): bytes is ArrayBuffer => bytes !== null))
      }
    },
  }
}

/** Tells an agent which site swarm to join and what the assets are. */
export function sendSite(port: MessagePort, site: SiteMessage): void {
  post(port, site)
}
