// Peer agent knobs, with documented defaults and units in names. A site overrides them with
// window.SWARMCDN_CONFIG = { agent: { … } } (read by loader/swarmcdn.ts).


export interface AgentConfig {
  /**
   * Swarms (assets) joined at once. Joining a new one leaves the least-recently-used. Default 6.
   * Total WebRTC connections per page ≤ maxActiveSwarms × maxConnsPerSwarm, whatever the number of assets.
   */
  maxActiveSwarms: number
  /** WebRTC connections per swarm; also caps the offers sent per announce. Default 4. */
  maxConnsPerSwarm: number
  /** Upload rate limit across all swarms, bytes per second; -1 for none. Default 4 MiB/s (32 Mbit/s): polite on a home uplink, yet a visitor can feed a few others at page speed. */
  maxUploadBytesPerSec: number
  /**
   * After joining a swarm, how long to wait for peers before telling the SW that no peer has a piece
   * (so it goes to HTTP at once). Default 1500 ms.
   */
  peerWaitMs: number
  /** Failed pieces a peer may contribute to before it is dropped and refused. Default 2. */
  maxBadPiecesPerPeer: number
  /** ICE servers for WebRTC. Default: the signed manifest's (`build --ice-server`); set here, they win. */
  iceServers: RTCIceServer[]
}

export const AGENT_CONFIG_DEFAULTS: Readonly<AgentConfig> = Object.freeze({
  maxActiveSwarms: 6,
  maxConnsPerSwarm: 4,
  maxUploadBytesPerSec: 4 * 1024 * 1024,
  peerWaitMs: 1500,
  maxBadPiecesPerPeer: 2,
  iceServers: [],
})

/** Defaults overridden by the fields of `overrides` that have the right type; the rest is ignored. */
export function resolveAgentConfig(overrides: unknown = {}): AgentConfig {
  const config: AgentConfig = { ...AGENT_CONFIG_DEFAULTS, iceServers: [...AGENT_CONFIG_DEFAULTS.iceServers] }
  if (typeof overrides !== 'object' || overrides === null) return config
  const given = overrides as Record<string, unknown>
  for (const key of ['maxActiveSwarms', 'maxConnsPerSwarm', 'maxUploadBytesPerSec', 'peerWaitMs', 'maxBadPiecesPerPeer'] as const) {
    const value = given[key]
    if (typeof value === 'number' && Number.isFinite(value)) config[key] = value
  }
  config.maxActiveSwarms = Math.max(1, Math.floor(config.maxActiveSwarms))
  config.maxConnsPerSwarm = Math.max(1, Math.floor(config.maxConnsPerSwarm))
  config.maxBadPiecesPerPeer = Math.max(1, Math.floor(config.maxBadPiecesPerPeer))
  if (Array.isArray(given.iceServers)) config.iceServers = given.iceServers as RTCIceServer[]
  return config
}
