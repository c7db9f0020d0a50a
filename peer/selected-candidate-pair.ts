// Which ICE candidates an open WebRTC connection uses (host, srflx, prflx, relay): the selected
// candidate pair from RTCPeerConnection.getStats(). Backs window.swarmcdn.connections().

export interface ConnectionInfo {
  /** RTCIceCandidateType of this side's candidate: 'host', 'srflx', 'prflx' or 'relay'. */
  localCandidateType: string
  remoteCandidateType: string
}

interface StatsEntry {
  type: string
  selectedCandidatePairId?: string
  nominated?: boolean
  state?: string
  localCandidateId?: string
  remoteCandidateId?: string
  candidateType?: string
}

export async function selectedCandidatePair(pc: Pick<RTCPeerConnection, 'getStats'>): Promise<ConnectionInfo | null> {
  const report = await pc.getStats()
  const get = (id: string | undefined) => (id ? (report.get(id) as StatsEntry | undefined) : undefined)
  let pair: StatsEntry | undefined
  report.forEach((entry: StatsEntry) => {
    if (entry.type === 'transport' && entry.selectedCandidatePairId) pair ??= get(entry.selectedCandidatePairId)
  })
  // Browsers without transport stats (Firefox): the nominated pair that succeeded.
  if (!pair) report.forEach((entry: StatsEntry) => {
    if (entry.type === 'candidate-pair' && entry.nominated && entry.state === 'succeeded') pair ??= entry
  })
  if (!pair) return null
  return {
    localCandidateType: get(pair.localCandidateId)?.candidateType ?? 'unknown',
    remoteCandidateType: get(pair.remoteCandidateId)?.candidateType ?? 'unknown',
  }
}
