// PeerSource over the page agents' MessagePorts (protocol: agent-protocol.ts).
//
// One request goes to ONE agent: the requesting page's, else the oldest other registered agent that is
// not suspected dead. Never a broadcast: every agent asked would join the swarm and open connections.
// The request ends when every piece was delivered or declared unavailable, when the agent says `end`,
// when the caller aborts (→ `cancel`), or when the agent does not answer a ping (page gone or frozen).

import type { ManifestAsset } from '../core/manifest-format.ts'
import type { AgentRegistry } from './agent-registry.ts'
import { parseAgentMessage, type AgentToSwMessage, type SwToAgentMessage } from './agent-protocol.ts'
import { createAsyncQueue, type AsyncQueue } from './async-queue.ts'
import type { PeerSource, PeerSourceDeps } from './peer-source.ts'
import type { PieceDelivery, PieceRequestOptions } from './piece-source.ts'
import { pieceKey } from './piece-store.ts'

export interface PortPeerSourceOptions {
  /** Absolute ws(s) tracker URLs of the current manifest (agent-protocol.ts absoluteTrackerUrls). */
  trackers: () => string[]
  /** An agent silent for longer than this is pinged when asked for pieces. Default 10 000 ms. */
  pingAfterIdleMs?: number
  /** An agent that does not answer a ping within this time is suspected dead. Default 750 ms. */
  pingTimeoutMs?: number
  now?: () => number
  /** Returns a cancel function. Default setTimeout. */
  setTimer?: (callback: () => void, ms: number) => () => void
}

export type PortPeerSourceDeps = PeerSourceDeps & PortPeerSourceOptions

interface PendingRequest {
  port: MessagePort
  infoHash: string
  remaining: Set<number>
  queue: AsyncQueue<PieceDelivery>
  finish(sendCancel: boolean): void
}

interface PortState {
  lastMessageMs: number
  /** No answer to a ping: skipped while another agent exists, until it speaks again. */
  suspect: boolean
  pingNonce: number | null
  cancelPingTimer?: () => void
  requests: Set<number>
}

/** Recent deliveries remembered for bad-piece reports (the verdict follows the delivery at once). */
const MAX_REMEMBERED_DELIVERIES = 512

const defaultSetTimer = (callback: () => void, ms: number) => {
  const timer = setTimeout(callback, ms)
  return () => clearTimeout(timer)
}

function post(port: MessagePort, message: SwToAgentMessage): void {
  try {
    port.postMessage(message)
  } catch {
    // A closed port: the request ends by its deadline or by the ping check.
  }
}

export function createPortPeerSource(deps: PortPeerSourceDeps): PeerSource {
  const now = deps.now ?? Date.now
  const setTimer = deps.setTimer ?? defaultSetTimer
  const pingAfterIdleMs = deps.pingAfterIdleMs ?? 10_000
  const pingTimeoutMs = deps.pingTimeoutMs ?? 750
  const states = new WeakMap<MessagePort, PortState>()
  const pending = new Map<number, PendingRequest>()
  const deliveredBy = new Map<string, MessagePort>()
  let nextRequestId = 1
  let nextNonce = 1

  function stateOf(port: MessagePort): PortState {
    let state = states.get(port)
    if (state) return state
    // Never heard from: the first request to it also pings it.
    const fresh: PortState = { lastMessageMs: -Infinity, suspect: false, pingNonce: null, requests: new Set() }
    states.set(port, fresh)
    port.addEventListener('message', (event) => onMessage(port, fresh, parseAgentMessage((event as MessageEvent).data)))
    port.start()
    return fresh
  }

  function onMessage(port: MessagePort, state: PortState, message: AgentToSwMessage | null): void {
    state.lastMessageMs = now()
    state.suspect = false
    if (!message) return
    if (message.type === 'pong') {
      if (message.nonce === state.pingNonce) {
        state.pingNonce = null
        state.cancelPingTimer?.()
      }
      return
    }
    const request = pending.get(message.requestId)
    if (!request || request.port !== port) return // another agent's, or already finished
    if (message.type === 'piece') {
      if (!request.remaining.delete(message.index)) return
      remember(pieceKey(request.infoHash, message.index), port)
      const bytes = new Uint8Array(message.bytes)
      request.queue.push(message.local === true ? { index: message.index, bytes, from: 'store' } : { index: message.index, bytes })
      if (request.remaining.size === 0) request.finish(false)
    } else if (message.type === 'unavailable') {
      for (const index of message.indexes) request.remaining.delete(index)
      if (request.remaining.size === 0) request.finish(false)
    } else {
      request.finish(false)
    }
  }

  function remember(key: string, port: MessagePort): void {
    deliveredBy.delete(key)
    deliveredBy.set(key, port)
    if (deliveredBy.size > MAX_REMEMBERED_DELIVERIES) deliveredBy.delete(deliveredBy.keys().next().value as string)
  }

  /** Pings an agent that has been quiet; no pong in time → suspect, and its requests end (HTTP takes over). */
  function checkAlive(port: MessagePort, state: PortState): void {
    if (state.pingNonce !== null || now() - state.lastMessageMs < pingAfterIdleMs) return
    const nonce = nextNonce++
    state.pingNonce = nonce
    const sentAt = now()
    post(port, { type: 'ping', nonce })
    state.cancelPingTimer = setTimer(() => {
      if (state.pingNonce !== nonce) return
      state.pingNonce = null
      if (state.lastMessageMs > sentAt) return // it spoke meanwhile
      state.suspect = true
      for (const requestId of [...state.requests]) pending.get(requestId)?.finish(false)
    }, pingTimeoutMs)
  }

  /** The requesting page's agent first, then the oldest other one; suspects only when nothing else is left. */
  function pickPort(clientId: string | undefined): MessagePort | undefined {
    const ids = deps.agents.clientIds()
    const ordered = clientId && ids.includes(clientId) ? [clientId, ...ids.filter((id) => id !== clientId)] : ids
    let fallback: MessagePort | undefined
    for (const id of ordered) {
      const port = deps.agents.get(id)
      if (!port) continue
      if (!states.get(port)?.suspect) return port
      fallback ??= port
    }
    return fallback
  }

  return {
    name: 'peers',
    isAvailable(clientId?: string) {
      return deps.agents.size() > 0 || (clientId !== undefined && deps.agents.mayRegister(clientId))
    },
    fetchPieces(asset: ManifestAsset, indexes: readonly number[], options): AsyncIterable<PieceDelivery> {
      if (indexes.length === 0 || options.signal.aborted) return createEndedQueue()
      const { clientId } = options
      if (clientId && !deps.agents.get(clientId) && deps.agents.mayRegister(clientId)) {
        // The page has just navigated and its swarmcdn.js has not started: give its agent a bounded wait.
        const waited = deps.agents.waitFor(clientId, deps.config.agentWaitMs).then((port) => port ?? pickPort(clientId))
        return deferredIterable(waited.then((port) => (options.signal.aborted ? createEndedQueue() : ask(port, asset, indexes, options))))
      }
      return ask(pickPort(clientId), asset, indexes, options)
    },
    onPieceVerdict(asset, index, verdict) {
      const key = pieceKey(asset.infoHash, index)
      const port = deliveredBy.get(key)
      deliveredBy.delete(key)
      if (port && !verdict.ok) post(port, { type: 'bad-piece', infoHash: asset.infoHash, index })
    },
  }

  function ask(port: MessagePort | undefined, asset: ManifestAsset, indexes: readonly number[], options: PieceRequestOptions): AsyncIterable<PieceDelivery> {
    if (!port) return createEndedQueue()
    const state = stateOf(port)
    const requestId = nextRequestId++
    let finished = false
    const finish = (sendCancel: boolean) => {
      if (finished) return
      finished = true
      pending.delete(requestId)
      state.requests.delete(requestId)
      options.signal.removeEventListener('abort', onAbort)
      if (sendCancel) post(port, { type: 'cancel', requestId })
      queue.end()
    }
    const queue = createAsyncQueue<PieceDelivery>(() => finish(true))
    const onAbort = () => finish(true)
    pending.set(requestId, { port, infoHash: asset.infoHash, remaining: new Set(indexes), queue, finish })
    state.requests.add(requestId)
    options.signal.addEventListener('abort', onAbort)
    post(port, { type: 'get-pieces', requestId, asset, trackers: deps.trackers(), indexes: [...indexes] })
    checkAlive(port, state)
    return queue
  }
}

/** An iterable whose items come from one that is only known later. */
function deferredIterable(later: Promise<AsyncIterable<PieceDelivery>>): AsyncIterable<PieceDelivery> {
  return {
    async *[Symbol.asyncIterator]() {
      yield* await later
    },
  }
}

function createEndedQueue(): AsyncIterable<PieceDelivery> {
  const queue = createAsyncQueue<PieceDelivery>()
  queue.end()
  return queue
}

/** Tells every agent that the SW stored these pieces (e.g. from HTTP), so they seed them at once. */
export function notifyStored(agents: Pick<AgentRegistry, 'clientIds' | 'get'>, infoHash: string, indexes: readonly number[]): void {
  if (indexes.length === 0) return
  for (const clientId of agents.clientIds()) {
    const port = agents.get(clientId)
    if (port) post(port, { type: 'stored', infoHash, indexes: [...indexes] })
  }
}
