// Peer agent knobs, with documented defaults and units in names. A site overrides them with
// window.SWARMCDN_CONFIG = { agent: { … } } (read by loader/swarmcdn.ts).

export interface AgentConfig {
  /**
   * WebRTC connections this page keeps to other visitors of the site, each carrying every asset.
   * Default 8: a few fast peers fill a home downlink, and a page with 50 assets still opens ≤ 8.
   */
  maxPeers: number
  /** Upload rate limit across all connections, bytes per second; -1 for none. Default 4 MiB/s (32 Mbit/s): polite on a home uplink, yet a visitor can feed a few others at page speed. */
  maxUploadBytesPerSec: number
  /** Bad pieces a peer may send before it is dropped and refused. Default 2. */
  maxBadPiecesPerPeer: number
  /**
   * Bytes of the pieces the agent has read for its peers that it keeps in memory, so the next peer
   * asking gets them without another read (recent-pieces.ts). Default 16 MiB: in a crowd the wanted
   * pieces are the fresh ones, each asked for by several peers; 0 for none.
   */
  recentPiecesBytes: number
  /** ICE servers for WebRTC. Default: the site's (`swarmcdn build --ice-server`, in the manifest). */
  iceServers?: RTCIceServer[]
}

export const AGENT_CONFIG_DEFAULTS: Readonly<AgentConfig> = Object.freeze({
  maxPeers: 8,
  maxUploadBytesPerSec: 4 * 1024 * 1024,
  maxBadPiecesPerPeer: 2,
  recentPiecesBytes: 16 * 1024 * 1024,
})

/** Defaults overridden by the fields of `overrides` that have the right type; the rest is ignored. */
export function resolveAgentConfig(overrides: unknown = {}): AgentConfig {
  const config: AgentConfig = { ...AGENT_CONFIG_DEFAULTS }
  if (typeof overrides !== 'object' || overrides === null) return config
  const given = overrides as Record<string, unknown>
  for (const key of ['maxPeers', 'maxUploadBytesPerSec', 'maxBadPiecesPerPeer', 'recentPiecesBytes'] as const) {
    const value = given[key]
    if (typeof value === 'number' && Number.isFinite(value)) config[key] = value
  }
  config.maxPeers = Math.max(1, Math.floor(config.maxPeers))
  config.maxBadPiecesPerPeer = Math.max(1, Math.floor(config.maxBadPiecesPerPeer))
  config.recentPiecesBytes = Math.max(0, config.recentPiecesBytes)
  if (Array.isArray(given.iceServers)) config.iceServers = given.iceServers as RTCIceServer[]
  return config
}
