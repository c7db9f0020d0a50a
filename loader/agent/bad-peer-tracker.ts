// Which peers sent the blocks of each piece, and strikes against them when a piece fails verification
// (in webtorrent, or later in the SW). webtorrent itself only warns and keeps the peer.
// Pure bookkeeping: peer ids in, verdicts out; the agent destroys wires.

export interface BadPeerTrackerOptions {
  /** Failed pieces a peer may contribute to before it is banned. */
  maxBadPiecesPerPeer: number
  /** Verified pieces whose contributors are remembered for a late bad-piece report from the SW. Default 1024. */
  rememberVerifiedPieces?: number
  /** Peers with strikes remembered (oldest forgotten first). Default 4096. */
  maxTrackedPeers?: number
}

export interface BadPeerTracker {
  /** A block of piece `key` arrived from `peerId`. */
  contributed(key: string, peerId: string): void
  /** The piece passed verification: its contributors are kept only for a late SW verdict. */
  verified(key: string): void
  /** The piece failed verification: strikes every contributor. Returns the peers banned by this failure. */
  failed(key: string): string[]
  /** The piece was dropped without a verdict (e.g. swarm left). */
  forget(key: string): void
  isBanned(peerId: string): boolean
  /** Number of strikes of a peer (for stats and tests). */
  strikes(peerId: string): number
}

export function createBadPeerTracker(options: BadPeerTrackerOptions): BadPeerTracker {
  const rememberVerified = options.rememberVerifiedPieces ?? 1024
  const maxTrackedPeers = options.maxTrackedPeers ?? 4096
  const inProgress = new Map<string, Set<string>>()
  const recentlyVerified = new Map<string, Set<string>>()
  const strikes = new Map<string, number>()
  const banned = new Set<string>()

  const strike = (contributors: Iterable<string>): string[] => {
    const newlyBanned: string[] = []
    for (const peerId of contributors) {
      const count = (strikes.get(peerId) ?? 0) + 1
      strikes.delete(peerId) // re-insert: most recently struck last
      strikes.set(peerId, count)
      if (strikes.size > maxTrackedPeers) strikes.delete(strikes.keys().next().value as string)
      if (count >= options.maxBadPiecesPerPeer && !banned.has(peerId)) {
        banned.add(peerId)
        newlyBanned.push(peerId)
      }
    }
    return newlyBanned
  }

  return {
    contributed(key, peerId) {
      let peers = inProgress.get(key)
      if (!peers) inProgress.set(key, (peers = new Set()))
      peers.add(peerId)
    },
    verified(key) {
      const peers = inProgress.get(key)
      inProgress.delete(key)
      recentlyVerified.delete(key)
      if (!peers) return
      recentlyVerified.set(key, peers)
      if (recentlyVerified.size > rememberVerified) recentlyVerified.delete(recentlyVerified.keys().next().value as string)
    },
    failed(key) {
      const peers = inProgress.get(key) ?? recentlyVerified.get(key)
      inProgress.delete(key)
      recentlyVerified.delete(key)
      return peers ? strike(peers) : []
    },
    forget(key) {
      inProgress.delete(key)
    },
    isBanned: (peerId) => banned.has(peerId),
    strikes: (peerId) => strikes.get(peerId) ?? 0,
  }
}

/** Piece index from webtorrent's warning "Piece N failed verification", or null. */
export function failedPieceIndex(warning: unknown): number | null {
  const message = warning instanceof Error ? warning.message : typeof warning === 'string' ? warning : ''
  const match = /^Piece (\d+) failed verification$/.exec(message)
  return match ? Number(match[1]) : null
}
