// The SW's open piece requests, as the agent sees them: which request waits for which piece, when a
// request may be told "unavailable", and which pieces nobody wants any more (to deselect in webtorrent).
// Pure; time comes in as arguments.

export interface OpenRequest {
  requestId: number
  infoHash: string
  /** Pieces not yet delivered nor declared unavailable. */
  waiting: Set<number>
  /** Before this time missing peers are not a reason to give up (peers may still be connecting). */
  waitUntilMs: number
}

export interface Unavailable {
  requestId: number
  indexes: number[]
}

export interface Outcome {
  /** Requests with nothing left to wait for: the agent sends `end`. */
  finished: number[]
  /** Pieces of the swarm that no open request wants any more. */
  released: number[]
}

export interface PieceRequests {
  add(requestId: number, infoHash: string, indexes: readonly number[], waitUntilMs: number): void
  /** The piece is had: the requests to send it to, and what that finishes. */
  delivered(infoHash: string, index: number): Outcome & { to: number[] }
  /** Requests whose wait is over give up on pieces no connected peer has. */
  sweep(infoHash: string, nowMs: number, anyPeerHas: (index: number) => boolean): Outcome & { unavailable: Unavailable[] }
  /** The SW cancelled. */
  cancel(requestId: number): Outcome & { infoHash?: string }
  /** Gives up every request of a swarm (swarm left or refused): all their pieces are unavailable. */
  dropSwarm(infoHash: string): Outcome & { unavailable: Unavailable[] }
  /** Pieces of the swarm wanted by some open request. */
  wanted(infoHash: string): Set<number>
  /** Earliest wait end among the swarm's requests that is after nowMs, for the next sweep. */
  nextWaitEndMs(infoHash: string, nowMs: number): number | undefined
  isBusy(infoHash: string): boolean
  infoHashes(): string[]
}

export function createPieceRequests(): PieceRequests {
  const requests = new Map<number, OpenRequest>()

  const ofSwarm = (infoHash: string) => [...requests.values()].filter((r) => r.infoHash === infoHash)

  const wanted = (infoHash: string) => {
    const all = new Set<number>()
    for (const request of ofSwarm(infoHash)) for (const index of request.waiting) all.add(index)
    return all
  }

  /** Removes `indexes` from the request; ends it when empty. */
  const settle = (infoHash: string, touched: Iterable<number>, finished: number[]): number[] => {
    for (const request of ofSwarm(infoHash)) {
      if (request.waiting.size === 0) {
        requests.delete(request.requestId)
        finished.push(request.requestId)
      }
    }
    const still = wanted(infoHash)
    return [...new Set(touched)].filter((index) => !still.has(index)).sort((a, b) => a - b)
  }

  return {
    add(requestId, infoHash, indexes, waitUntilMs) {
      requests.set(requestId, { requestId, infoHash, waiting: new Set(indexes), waitUntilMs })
    },
    delivered(infoHash, index) {
      const to: number[] = []
      for (const request of ofSwarm(infoHash)) if (request.waiting.delete(index)) to.push(request.requestId)
      const finished: number[] = []
      const released = settle(infoHash, to.length > 0 ? [index] : [], finished)
      return { to, finished, released }
    },
    sweep(infoHash, nowMs, anyPeerHas) {
      const unavailable: Unavailable[] = []
      const touched: number[] = []
      for (const request of ofSwarm(infoHash)) {
        if (nowMs < request.waitUntilMs) continue
        const missing = [...request.waiting].filter((index) => !anyPeerHas(index)).sort((a, b) => a - b)
        if (missing.length === 0) continue
        for (const index of missing) request.waiting.delete(index)
        touched.push(...missing)
        unavailable.push({ requestId: request.requestId, indexes: missing })
      }
      const finished: number[] = []
      const released = settle(infoHash, touched, finished)
      return { unavailable, finished, released }
    },
    cancel(requestId) {
      const request = requests.get(requestId)
      if (!request) return { finished: [], released: [] }
      requests.delete(requestId)
      const still = wanted(request.infoHash)
      const released = [...request.waiting].filter((index) => !still.has(index)).sort((a, b) => a - b)
      return { infoHash: request.infoHash, finished: [], released }
    },
    dropSwarm(infoHash) {
      const unavailable: Unavailable[] = []
      const finished: number[] = []
      const released = new Set<number>()
      for (const request of ofSwarm(infoHash)) {
        requests.delete(request.requestId)
        const indexes = [...request.waiting].sort((a, b) => a - b)
        if (indexes.length > 0) unavailable.push({ requestId: request.requestId, indexes })
        for (const index of indexes) released.add(index)
        finished.push(request.requestId)
      }
      return { unavailable, finished, released: [...released].sort((a, b) => a - b) }
    },
    wanted,
    nextWaitEndMs(infoHash, nowMs) {
      let next: number | undefined
      for (const request of ofSwarm(infoHash)) {
        if (request.waitUntilMs > nowMs && (next === undefined || request.waitUntilMs < next)) next = request.waitUntilMs
      }
      return next
    },
    isBusy: (infoHash) => ofSwarm(infoHash).length > 0,
    infoHashes: () => [...new Set([...requests.values()].map((r) => r.infoHash))],
  }
}
