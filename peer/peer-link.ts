// One WebRTC connection to one peer: an RTCPeerConnection with one ordered, reliable data channel.
// The tracker protocol carries no trickled candidates, so an offer or answer is sent once ICE
// gathering is done, with a bounded wait: an unreachable STUN server must not stall every
// connection for the browser's full gathering timeout (≈10 s).

export interface PeerLinkOptions {
  RTCPeerConnection: typeof RTCPeerConnection
  iceServers: RTCIceServer[]
  /** Longest wait for ICE gathering before the description goes out with what it has. Default 1500 ms. */
  iceGatheringMaxMs?: number
  /** Once a server-reflexive or relay candidate is in, wait this much more for others. Default 200 ms. */
  iceGraceMs?: number
  /** Give up when the channel is not open this long after start. Default 20 s. */
  connectTimeoutMs?: number
  /** Pause sending above this many buffered bytes; resume below half of it. Default 1 MiB. */
  highWaterBytes?: number
}

export interface CandidatePair {
  localCandidateType: string
  remoteCandidateType: string
  /** RTT of the selected pair, ms, when the browser reports it. */
  roundTripTimeMs?: number
}

export interface PeerLink {
  readonly initiator: boolean
  /** Offerer side: the offer to announce. */
  createOffer(): Promise<RTCSessionDescriptionInit>
  /** Answerer side: the answer to a relayed offer. */
  acceptOffer(offer: RTCSessionDescriptionInit): Promise<RTCSessionDescriptionInit>
  acceptAnswer(answer: RTCSessionDescriptionInit): Promise<void>
  send(data: string | Uint8Array): void
  /** Bytes queued in the channel. */
  buffered(): number
  /** Resolves when the buffer is below the low-water mark (at once if it already is). */
  drained(): Promise<void>
  isOpen(): boolean
  candidatePair(): Promise<CandidatePair | null>
  onOpen: () => void
  onMessage: (data: string | ArrayBuffer) => void
  /** Once, whatever the cause (remote close, failure, timeout, close()). */
  onClose: () => void
  close(): void
}

const CHANNEL_LABEL = 'swarmcdn'

export function createPeerLink(initiator: boolean, options: PeerLinkOptions): PeerLink {
  const gatheringMaxMs = options.iceGatheringMaxMs ?? 1500
  const graceMs = options.iceGraceMs ?? 200
  const highWater = options.highWaterBytes ?? 1024 * 1024
  const pc = new options.RTCPeerConnection({ iceServers: options.iceServers })
  let channel: RTCDataChannel | null = null
  let closed = false
  let drainWaiters: Array<() => void> = []
  const connectTimer = setTimeout(() => link.isOpen() || close(), options.connectTimeoutMs ?? 20_000)

  const link: PeerLink = {
    initiator,
    async createOffer() {
      const offer = await pc.createOffer()
      await pc.setLocalDescription(offer)
      return gathered()
    },
    async acceptOffer(offer) {
      await pc.setRemoteDescription(offer)
      const answer = await pc.createAnswer()
      await pc.setLocalDescription(answer)
      return gathered()
    },
    async acceptAnswer(answer) {
      await pc.setRemoteDescription(answer)
    },
    send(data) {
      if (!channel || channel.readyState !== 'open') return
      try {
        if (typeof data === 'string') channel.send(data)
        else channel.send(data as Uint8Array<ArrayBuffer>)
      } catch {
        close()
      }
    },
    buffered: () => channel?.bufferedAmount ?? 0,
    drained() {
      if (closed || !channel || channel.bufferedAmount <= highWater / 2) return Promise.resolve()
      return new Promise((resolve) => drainWaiters.push(resolve))
    },
    isOpen: () => !closed && channel?.readyState === 'open',
    async candidatePair() {
      try {
        const report = await pc.getStats()
        let pairId: string | undefined
        report.forEach((stat: any) => {
          if (stat.type === 'transport' && stat.selectedCandidatePairId) pairId = stat.selectedCandidatePairId
        })
        let pair: any
        report.forEach((stat: any) => {
          if (stat.type !== 'candidate-pair') return
          if (pairId ? stat.id === pairId : stat.nominated && stat.state === 'succeeded') pair ??= stat
        })
        if (!pair) return null
        const local = report.get(pair.localCandidateId)
        const remote = report.get(pair.remoteCandidateId)
        return {
          localCandidateType: local?.candidateType ?? 'unknown',
          remoteCandidateType: remote?.candidateType ?? 'unknown',
          roundTripTimeMs: typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : undefined,
        }
      } catch {
        return null
      }
    },
    onOpen: () => undefined,
    onMessage: () => undefined,
    onClose: () => undefined,
    close,
  }

  function attach(next: RTCDataChannel): void {
    channel = next
    next.binaryType = 'arraybuffer'
    next.bufferedAmountLowThreshold = highWater / 2
    next.onopen = () => link.onOpen()
    next.onmessage = (event) => link.onMessage(event.data)
    next.onbufferedamountlow = () => {
      const waiters = drainWaiters
      drainWaiters = []
      waiters.forEach((resolve) => resolve())
    }
    next.onclose = () => close()
    next.onerror = () => close()
  }

  if (initiator) attach(pc.createDataChannel(CHANNEL_LABEL, { ordered: true }))
  else pc.ondatachannel = (event) => (channel ? event.channel.close() : attach(event.channel))
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed' || pc.connectionState === 'closed') close()
  }

  /** The local description once gathering completes, or when the bounded wait ends. */
  function gathered(): Promise<RTCSessionDescriptionInit> {
    return new Promise((resolve, reject) => {
      let done = false
      let graceTimer: ReturnType<typeof setTimeout> | undefined
      const finish = () => {
        if (done) return
        done = true
        clearTimeout(maxTimer)
        clearTimeout(graceTimer)
        pc.removeEventListener('icegatheringstatechange', onState)
        pc.removeEventListener('icecandidate', onCandidate)
        const description = pc.localDescription
        if (!description || closed) reject(new Error('peer link closed while gathering'))
        else resolve({ type: description.type, sdp: description.sdp })
      }
      const onState = () => pc.iceGatheringState === 'complete' && finish()
      const onCandidate = (event: RTCPeerConnectionIceEvent) => {
        const candidate = event.candidate?.candidate ?? ''
        if (!graceTimer && / typ (srflx|relay) /.test(candidate)) graceTimer = setTimeout(finish, graceMs)
      }
      const maxTimer = setTimeout(finish, options.iceServers.length > 0 ? gatheringMaxMs : Math.min(gatheringMaxMs, 500))
      pc.addEventListener('icegatheringstatechange', onState)
      pc.addEventListener('icecandidate', onCandidate)
      onState()
    })
  }

  function close(): void {
    if (closed) return
    closed = true
    clearTimeout(connectTimer)
    const waiters = drainWaiters
    drainWaiters = []
    waiters.forEach((resolve) => resolve())
    try {
      channel?.close()
    } catch {
      // Already closed.
    }
    try {
      pc.close()
    } catch {
      // Already closed.
    }
    link.onClose()
  }

  return link
}
