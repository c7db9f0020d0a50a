// The prebuilt ESM browser bundle of webtorrent 3: only what the peer agent uses (loader/agent/).

declare module 'webtorrent/dist/webtorrent.min.js' {
  export interface WebTorrentWire {
    peerId: string | null
    type: string
    destroyed: boolean
    peerPieces: { get(index: number): boolean }
    have(index: number): void
    destroy(): void
    on(event: 'piece', listener: (index: number, offset: number, buffer: Uint8Array) => void): this
    on(event: 'close' | 'bitfield' | 'have' | 'have-all', listener: (...args: any[]) => void): this
    once(event: string, listener: (...args: any[]) => void): this
  }

  export interface WebTorrentTorrent {
    infoHash: string
    ready: boolean
    destroyed: boolean
    done: boolean
    numPeers: number
    uploaded: number
    downloaded: number
    wires: WebTorrentWire[]
    pieces: unknown[]
    bitfield: { get(index: number): boolean } | null
    store: { get(index: number, opts: Record<string, unknown>, cb: (err: Error | null, buf?: Uint8Array) => void): void } | null
    _critical: boolean[]
    _markVerified(index: number): void
    _peersLength: number
    /** webtorrent internal: peers by id; a WebRTC peer's `conn` is a simple-peer whose `_pc` is its RTCPeerConnection. */
    _peers: Map<string, { conn?: { _pc?: RTCPeerConnection } | null }> | null
    /** webtorrent internal: creates `discovery` (trackers) once the torrent can announce. */
    _startDiscovery(): void
    discovery: { tracker?: { on?(event: 'update', listener: (data: { complete?: number; incomplete?: number }) => void): unknown } } | null
    addPeer(peer: unknown, source?: unknown): boolean
    select(start: number, end: number, priority?: number, notify?: () => void): void
    deselect(start: number, end: number): void
    critical(start: number, end: number): void
    destroy(opts?: Record<string, unknown>, cb?: (err?: Error | null) => void): void
    on(event: 'wire', listener: (wire: WebTorrentWire, addr?: string) => void): this
    on(event: 'verified', listener: (index: number) => void): this
    on(event: 'ready' | 'infoHash' | 'metadata' | 'done', listener: () => void): this
    on(event: 'warning' | 'error', listener: (error: Error | string) => void): this
    once(event: string, listener: (...args: any[]) => void): this
  }

  export default class WebTorrent {
    constructor(opts?: Record<string, unknown>)
    torrents: WebTorrentTorrent[]
    destroyed: boolean
    add(torrent: Uint8Array | string, opts?: Record<string, unknown>, onTorrent?: (torrent: WebTorrentTorrent) => void): WebTorrentTorrent
    get(torrentId: string): Promise<WebTorrentTorrent | null> | WebTorrentTorrent | null
    throttleUpload(rate: number): boolean | void
    destroy(cb?: (err?: Error | null) => void): void
    on(event: 'upload' | 'download', listener: (bytes: number) => void): this
    on(event: 'error' | 'warning', listener: (error: Error | string) => void): this
  }
}
