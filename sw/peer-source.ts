// The peer source: pieces from other visitors, through the page's WebTorrent agent (WebRTC exists only
// in pages). Implemented elsewhere; this file fixes the contract it must meet.
//
// Expected behaviour of an implementation:
// - fetchPieces asks the agent of options.clientId first (agents.get), else another registered agent,
//   over its MessagePort; it yields pieces as the agent sends them and ends when options.signal aborts.
// - isAvailable() is false when no agent is registered, so requests do not wait for a deadline.
// - onPieceVerdict({ ok: false }) penalises the peer that sent the piece.
// The asset fetcher gives it SwConfig.pieceDeadlineMs per piece; what it has not delivered by then
// goes to the webseed.

import type { AgentRegistry } from './agent-registry.ts'
import type { PieceSource } from './piece-source.ts'
import type { SwConfig } from './config.ts'

export interface PeerSource extends PieceSource {
  readonly name: 'peers'
}

export interface PeerSourceDeps {
  agents: AgentRegistry
  config: Pick<SwConfig, 'pieceDeadlineMs' | 'agentWaitMs'>
}

export type CreatePeerSource = (deps: PeerSourceDeps) => PeerSource
