// Protocol between the service worker (sw/peer-source-port.ts) and a page's peer agent (loader/agent/),
// on the MessagePort the page hands over with {type:'swarmcdn:register-agent'} (sw/messages.ts).
// Imported by both sides; free of runtime dependencies. Documented in docs/peer-protocol.md.
//
// SW → agent
//   { type: 'site', swarm, trackers, iceServers, assets }   after registration and after each new manifest:
//       the site swarm to join (one for all assets), absolute ws(s) tracker URLs, ICE servers, and each
//       asset's { infoHash, length, pieceLength }. The agent seeds what the shared store holds of them.
//   { type: 'get-pieces', requestId, infoHash, indexes }    fetch these pieces from connected peers.
//       Answered per piece with `piece` or `unavailable`; the SW decides what goes to HTTP.
//   { type: 'cancel', requestId }                           no longer wanted.
//   { type: 'stored', infoHash, indexes, pieces? }          the SW stored these verified pieces: share them.
//       pieces: the bytes of those a connected peer is likely to want now (ArrayBuffer, transferred;
//       null for the others), so the agent serves fresh pieces in a crowd from memory.
//   { type: 'recent-piece', requestId, bytes }              answers `read-piece`: the bytes (ArrayBuffer,
//       transferred), or null when the SW no longer holds them in memory (the agent reads IndexedDB).
//   { type: 'bad-piece', infoHash, index }                  a piece this agent delivered failed verification.
//   { type: 'ping', nonce }                                 liveness; answered with `pong`.
//
// agent → SW
//   { type: 'availability', infoHash, indexes, available }  pieces connected peers now hold (available: true)
//       or that no connected peer holds any more (false). After `site`, a full snapshot (`reset: true` first).
//   { type: 'swarm', peers, settling, share? }              connections open now; settling while the agent is
//       still connecting to the peers the tracker named (the SW holds HTTP back within its latency budget);
//       share { rank, of }: this page's place among itself and its connected peers (sorted peer ids), so
//       visitors arriving together each fetch a different share of the pieces nobody holds yet.
//   { type: 'piece', requestId, index, bytes }              bytes: ArrayBuffer, transferred. Unverified for the SW.
//   { type: 'unavailable', requestId, indexes }             no connected peer could deliver these.
//   { type: 'read-piece', requestId, infoHash, index }      a peer wants a piece the SW stored and did not send:
//       its bytes, from the SW's memory of what it stored lately (the agent's IndexedDB reads queue behind
//       the SW's writes).
//   { type: 'pong', nonce }
//
// Outside the port, SW → page (client.postMessage):
//   { type: 'swarmcdn:agent-wanted' }  the SW (re)started and has no agents: pages with an agent re-register.

export const MSG_AGENT_WANTED = 'swarmcdn:agent-wanted'

export interface SiteAsset {
  infoHash: string
  length: number
  pieceLength: number
}

export interface SiteMessage {
  type: 'site'
  swarm: string
  trackers: string[]
  iceServers: RTCIceServer[]
  assets: SiteAsset[]
}
export interface GetPiecesMessage {
  type: 'get-pieces'
  requestId: number
  infoHash: string
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
  /** Bytes of some of them, in the order of `indexes` (null: not sent). */
  pieces?: Array<ArrayBuffer | null>
}
export interface RecentPieceMessage {
  type: 'recent-piece'
  requestId: number
  /** Null: not in the SW's memory. */
  bytes: ArrayBuffer | null
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

export type SwToAgentMessage = SiteMessage | GetPiecesMessage | CancelMessage | StoredMessage | RecentPieceMessage | BadPieceMessage | PingMessage

export interface AvailabilityMessage {
  type: 'availability'
  infoHash: string
  indexes: number[]
  available: boolean
  /** Forget everything known of this agent's availability first (sent once after each `site`). */
  reset?: boolean
}
/** A page's place in a crowd: it fetches first the pieces it owns (core/crowd-share.ts). */
export interface CrowdShare {
  rank: number
  of: number
}

export interface SwarmMessage {
  type: 'swarm'
  peers: number
  settling: boolean
  share?: CrowdShare
}
export interface PieceMessage {
  type: 'piece'
  requestId: number
  index: number
  bytes: ArrayBuffer
}
export interface UnavailableMessage {
  type: 'unavailable'
  requestId: number
  indexes: number[]
}
export interface ReadPieceMessage {
  type: 'read-piece'
  requestId: number
  infoHash: string
  index: number
}
export interface PongMessage {
  type: 'pong'
  nonce: number
}

export type AgentToSwMessage = AvailabilityMessage | SwarmMessage | PieceMessage | UnavailableMessage | ReadPieceMessage | PongMessage

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null
const isIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
const isIndexList = (value: unknown): value is number[] => Array.isArray(value) && value.every(isIndex)
const isHex40 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{40}$/.test(value)
const isPieceList = (value: unknown, length: number): value is Array<ArrayBuffer | null> => Array.isArray(value) && value.length === length && value.every((item) => item === null || item instanceof ArrayBuffer)
const isShare = (value: unknown): value is CrowdShare => isRecord(value) && isIndex(value.rank) && isIndex(value.of) && value.rank < value.of

/** What the SW accepts from an agent; anything else is dropped (the page is not trusted either). */
export function parseAgentMessage(data: unknown): AgentToSwMessage | null {
  if (!isRecord(data)) return null
  switch (data.type) {
    case 'availability':
      return isHex40(data.infoHash) && isIndexList(data.indexes) && typeof data.available === 'boolean' ? (data as unknown as AvailabilityMessage) : null
    case 'swarm':
      return isIndex(data.peers) && typeof data.settling === 'boolean' && (data.share === undefined || isShare(data.share)) ? (data as unknown as SwarmMessage) : null
    case 'piece':
      return isIndex(data.requestId) && isIndex(data.index) && data.bytes instanceof ArrayBuffer ? (data as unknown as PieceMessage) : null
    case 'unavailable':
      return isIndex(data.requestId) && isIndexList(data.indexes) ? (data as unknown as UnavailableMessage) : null
    case 'read-piece':
      return isIndex(data.requestId) && isHex40(data.infoHash) && isIndex(data.index) ? (data as unknown as ReadPieceMessage) : null
    case 'pong':
      return isIndex(data.nonce) ? (data as unknown as PongMessage) : null
    default:
      return null
  }
}

/** What the agent accepts from the SW. */
export function parseSwMessage(data: unknown): SwToAgentMessage | null {
  if (!isRecord(data)) return null
  switch (data.type) {
    case 'site':
      return isHex40(data.swarm) &&
        Array.isArray(data.trackers) &&
        data.trackers.every((t) => typeof t === 'string') &&
        Array.isArray(data.iceServers) &&
        Array.isArray(data.assets) &&
        data.assets.every((a) => isRecord(a) && isHex40(a.infoHash) && isIndex(a.length) && isIndex(a.pieceLength) && (a.pieceLength as number) > 0)
        ? (data as unknown as SiteMessage)
        : null
    case 'get-pieces':
      return isIndex(data.requestId) && isHex40(data.infoHash) && isIndexList(data.indexes) ? (data as unknown as GetPiecesMessage) : null
    case 'cancel':
      return isIndex(data.requestId) ? (data as unknown as CancelMessage) : null
    case 'stored':
      return isHex40(data.infoHash) && isIndexList(data.indexes) && (data.pieces === undefined || isPieceList(data.pieces, data.indexes.length)) ? (data as unknown as StoredMessage) : null
    case 'recent-piece':
      return isIndex(data.requestId) && (data.bytes === null || data.bytes instanceof ArrayBuffer) ? (data as unknown as RecentPieceMessage) : null
    case 'bad-piece':
      return isHex40(data.infoHash) && isIndex(data.index) ? (data as unknown as BadPieceMessage) : null
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
