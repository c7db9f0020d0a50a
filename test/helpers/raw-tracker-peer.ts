// A WebTorrent tracker client on a raw WebSocket: sends whatever a test (or an attacker) wants and
// records every message it receives.

import WebSocket from 'ws'

export const binary = (hex: string) => Buffer.from(hex, 'hex').toString('latin1')
/** A 20-character peer id from a short label. */
export const peerId = (label: string) => (label + '-'.repeat(20)).slice(0, 20)
export const peerIdHex = (label: string) => Buffer.from(peerId(label), 'latin1').toString('hex')

export class RawTrackerPeer {
  readonly received: any[] = []
  readonly closed: Promise<number>
  private waiters: Array<() => void> = []

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      try {
        this.received.push(JSON.parse(data.toString()))
      } catch {
        this.received.push({ unparsable: data.toString() })
      }
      for (const wake of this.waiters.splice(0)) wake()
    })
    this.closed = new Promise((resolve) => ws.on('close', (code) => {
      resolve(code)
      for (const wake of this.waiters.splice(0)) wake()
    }))
    ws.on('error', () => {})
  }

  /** Connects; `address` is sent as X-Forwarded-For (the tracker must trust the proxy for it to count). */
  static open(url: string, address?: string): Promise<RawTrackerPeer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: address ? { 'X-Forwarded-For': address } : {}, maxPayload: 256 * 1024 * 1024 })
      const peer = new RawTrackerPeer(ws)
      ws.once('open', () => resolve(peer))
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
      ws.once('error', reject)
    })
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  send(message: unknown): void {
    if (this.isOpen) this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** Resolves once `count` messages have arrived in total, or the socket closed. */
  async waitForCount(count: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.received.length < count && this.ws.readyState !== WebSocket.CLOSED) {
      if (Date.now() > deadline) throw new Error(`waited for ${count} messages, got ${this.received.length}`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 200)
      })
    }
  }

  /** Sends a scrape and waits for its reply: everything the tracker sent before it has arrived. */
  async flush(infoHashHex: string): Promise<void> {
    const before = this.received.length
    this.send({ action: 'scrape', info_hash: binary(infoHashHex) })
    await this.waitForCount(before + 1)
  }

  announce(infoHashHex: string, label: string, extra: Record<string, unknown> = {}): void {
    this.send({ action: 'announce', event: 'started', uploaded: 0, downloaded: 0, left: 1, numwant: 0, info_hash: binary(infoHashHex), peer_id: peerId(label), offers: [], ...extra })
  }

  count(predicate: (message: any) => boolean): number {
    return this.received.filter(predicate).length
  }

  close(): Promise<number> {
    this.ws.close()
    return this.closed
  }
}

/** n WebRTC offers as WebTorrent sends them. */
export function fakeOffers(n: number, tag = 'o'): Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }> {
  return Array.from({ length: n }, (_, i) => ({ offer: { type: 'offer', sdp: `v=0 fake ${tag}${i}` }, offer_id: `${tag}${i}`.padEnd(20, 'x').slice(0, 20) }))
}
