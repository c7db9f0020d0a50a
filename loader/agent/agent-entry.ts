// Entry of the lazily loaded chunk swarmcdn-agent.js: the peer agent with the browser's own WebRTC and
// WebSocket.
// Registers the peer agent with the controlling SW over a MessageChannel, and registers again when the
// controller changes or the SW asks for agents after a restart (its registry lives in memory).

import { MSG_REGISTER_AGENT } from '../../sw/messages.ts'
import { MSG_AGENT_WANTED } from '../../core/agent-protocol.ts'
import { createIdbPieceStore } from '../../sw/piece-store-idb.ts'
import { resolveAgentConfig } from './agent-config.ts'
import { createPeerAgent, type AgentEvent, type AgentStats } from './peer-agent.ts'
import { createStoredIndexLister } from './stored-index-lister.ts'
import type { ConnectionInfo } from '../../peer/selected-candidate-pair.ts'

export type { AgentEvent, AgentStats, ConnectionInfo }

export interface StartAgentOptions {
  /** Overrides of AgentConfig (agent-config.ts); unknown fields are ignored. */
  config?: unknown
  onEvent?: (event: AgentEvent) => void
  /** Default navigator.serviceWorker. */
  serviceWorker?: ServiceWorkerContainer
}

export interface AgentHandle {
  /** Resolves when the SW accepted the agent (first registration). */
  ready: Promise<void>
  stats(): AgentStats
  connections(): Promise<ConnectionInfo[]>
  /** Leaves every swarm, closes every connection. */
  stop(): Promise<void>
}

export function startAgent(options: StartAgentOptions = {}): AgentHandle {
  const container = options.serviceWorker ?? navigator.serviceWorker
  const config = resolveAgentConfig(options.config)
  // Same database as the SW; never ask for persistent storage from the page (Firefox would prompt).
  // The SW owns the budget: it stores every piece the agent hands it too, and evicts then. The page never
  // evicts, so a page can't enforce a different budget than the one the site owner set (--sw-config).
  // The SW owns the database too: the page never creates it (a page frozen in the back/forward cache
  // while creating it blocked the SW's store for good).
  const pieces = createIdbPieceStore({ budgetBytes: Number.POSITIVE_INFINITY, requestPersistence: async () => false, existingOnly: true })
  const agent = createPeerAgent({
    RTCPeerConnection,
    WebSocket,
    pieces,
    listStored: createStoredIndexLister(pieces),
    config,
    onEvent: options.onEvent,
  })

  let markReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (markReady = resolve))

  const register = () => {
    const controller = container.controller
    if (!controller) return
    const channel = new MessageChannel()
    agent.attach(channel.port1, markReady)
    controller.postMessage({ type: MSG_REGISTER_AGENT }, [channel.port2])
  }
  const onSwMessage = (event: MessageEvent) => {
    if ((event.data as { type?: unknown } | null)?.type === MSG_AGENT_WANTED) register()
  }
  container.addEventListener('controllerchange', register)
  container.addEventListener('message', onSwMessage)
  register()

  return {
    ready,
    stats: () => agent.stats(),
    connections: () => agent.connections(),
    async stop() {
      container.removeEventListener('controllerchange', register)
      container.removeEventListener('message', onSwMessage)
      await agent.destroy()
    },
  }
}
