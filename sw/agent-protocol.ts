// Protocol between the service worker's peer source (sw/peer-source-port.ts) and the page's peer agent
// (loader/agent/), on the MessagePort the page hands over with {type:'swarmcdn:register-agent'}
// (sw/messages.ts). Shared by both sides; keep it free of runtime dependencies.
//
// SW → agent
//   { type: 'get-pieces', requestId, asset, trackers, indexes }
//       Fetch these pieces of `asset` (a ManifestAsset) from peers. `trackers` are absolute ws(s) URLs.
//       The agent joins the asset's swarm lazily, and answers with `piece`, `unavailable` and `end`.
//   { type: 'cancel', requestId }      The SW no longer wants the pieces of this request.
//   { type: 'stored', infoHash, indexes }
//       The SW stored these (verified) pieces, e.g. got over HTTP: an agent in that swarm marks them had and
//       announces HAVE to its peers at once. Sent to every agent (cheap).
//   { type: 'seed', assets, trackers }
//       Sent to a newly registered agent: manifest assets whose pieces may be in the shared store. The agent
//       joins (a bounded number of) those swarms to seed what the store holds.
//   { type: 'bad-piece', infoHash, index }
//       A piece this agent delivered failed the SW's verification: penalise the peer(s) that sent it.
//   { type: 'ping', nonce }            Liveness check; the agent answers `pong` at once.
//   { type: 'swarmcdn:agent-registered' }  (sw/messages.ts) the registration was accepted.
//
// agent → SW
//   { type: 'piece', requestId, index, bytes, local? }   bytes: ArrayBuffer, transferred. Unverified for the SW.
//                                                local: the agent found it in the shared store (another tab,
//                                                or the SW itself, stored it meanwhile): not peer bytes.
//   { type: 'unavailable', requestId, indexes }  no connected peer has these: the SW stops waiting for them.
//   { type: 'end', requestId }                   the agent has nothing more for this request.
//   { type: 'pong', nonce }
//
// Outside the port, SW → page (client.postMessage):
//   { type: 'swarmcdn:agent-wanted' }  the SW (re)started and has no agents: pages with an agent re-register.

import type { ManifestAsset } from '../core/manifest-format.ts'

export const MSG_AGENT_WANTED = 'swarmcdn:agent-wanted'

export interface GetPiecesMessage {
  type: 'get-pieces'
  requestId: number
  asset: ManifestAsset
  trackers: string[]
  indexes: number[]
}
export interface CancelMessage {
  type: 'cancel'
  requestId: number
}
export interface StoredMessage {
  type: 'stored'
  infoHash: string
  indexes: number[]
}
export interface SeedMessage {
  type: 'seed'
  assets: ManifestAsset[]
  trackers: string[]
}
export interface BadPieceMessage {
  type: 'bad-piece'
  infoHash: string
  index: number
}
export interface PingMessage {
  type: 'ping'
  nonce: number
}

export type SwToAgentMessage = GetPiecesMessage | CancelMessage | StoredMessage | SeedMessage | BadPieceMessage | PingMessage

export interface PieceMessage {
  type: 'piece'
  requestId: number
  index: number
  bytes: ArrayBuffer
  local?: boolean
}
export interface UnavailableMessage {
  type: 'unavailable'
  requestId: number
  indexes: number[]
}
export interface EndMessage {
  type: 'end'
  requestId: number
}
export interface PongMessage {
  type: 'pong'
  nonce: number
}

export type AgentToSwMessage = PieceMessage | UnavailableMessage | EndMessage | PongMessage

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null
const isIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
const isIndexList = (value: unknown): value is number[] => Array.isArray(value) && value.every(isIndex)
const isInfoHash = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{40}$/.test(value)

/** What the SW accepts from an agent; anything else is dropped (the page is not trusted either). */
export function parseAgentMessage(data: unknown): AgentToSwMessage | null {
  if (!isRecord(data) || !isIndex(data.requestId ?? data.nonce)) return null
  switch (data.type) {
    case 'piece':
      return isIndex(data.index) && data.bytes instanceof ArrayBuffer ? (data as unknown as PieceMessage) : null
    case 'unavailable':
      return isIndexList(data.indexes) ? (data as unknown as UnavailableMessage) : null
    case 'end':
      return data as unknown as EndMessage
    case 'pong':
      return isIndex(data.nonce) ? (data as unknown as PongMessage) : null
    default:
      return null
  }
}

/** What the agent accepts from the SW. Assets are checked further where they are used (infohash check). */
export function parseSwMessage(data: unknown): SwToAgentMessage | null {
  if (!isRecord(data)) return null
  switch (data.type) {
    case 'get-pieces':
      return isIndex(data.requestId) && isRecord(data.asset) && isIndexList(data.indexes) && Array.isArray(data.trackers)
        ? (data as unknown as GetPiecesMessage)
        : null
    case 'cancel':
      return isIndex(data.requestId) ? (data as unknown as CancelMessage) : null
    case 'stored':
      return isInfoHash(data.infoHash) && isIndexList(data.indexes) ? (data as unknown as StoredMessage) : null
    case 'seed':
      return Array.isArray(data.assets) && Array.isArray(data.trackers) ? (data as unknown as SeedMessage) : null
    case 'bad-piece':
      return isInfoHash(data.infoHash) && isIndex(data.index) ? (data as unknown as BadPieceMessage) : null
    case 'ping':
      return isIndex(data.nonce) ? (data as unknown as PingMessage) : null
    default:
      return null
  }
}

/** Manifest tracker entries as absolute ws(s) URLs: a path means the page's own origin (ws: or wss: by scheme). */
export function absoluteTrackerUrls(trackers: readonly string[], origin: string): string[] {
  const base = new URL(origin)
  const wsOrigin = `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}`
  const urls: string[] = []
  for (const tracker of trackers) {
    try {
      urls.push(tracker.startsWith('/') ? new URL(tracker, wsOrigin).href : new URL(tracker).href)
    } catch {
      // validateManifest already checked them; skip anything odd.
    }
  }
  return urls
}
