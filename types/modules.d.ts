// Minimal declarations for untyped dependencies: only what swarmcdn uses.

declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array
    decode(data: Uint8Array, encoding?: string): any
  }
  export default bencode
}

declare module 'create-torrent' {
  function createTorrent(input: string | Buffer, opts: Record<string, unknown>, cb: (err: Error | null, torrent: Buffer) => void): void
  export default createTorrent
}

declare module 'parse-torrent' {
  function parseTorrent(input: Buffer | string): Promise<Record<string, any>>
  export default parseTorrent
}

declare module 'bittorrent-tracker/server' {
  import { EventEmitter } from 'node:events'
  export default class Server extends EventEmitter {
    constructor(opts?: Record<string, unknown>)
    ws: any
    torrents: Record<string, { complete: number; incomplete: number; peers: { length: number; keys: string[] } }>
    onWebSocketConnection(socket: any, opts?: Record<string, unknown>): void
    createSwarm(infoHash: string, cb: (error: Error | null, swarm?: unknown) => void): void
    close(cb?: () => void): void
    static Swarm: new (infoHash: string, server: Server) => any
  }
}

declare module 'webtorrent' {
  import { EventEmitter } from 'node:events'
  export default class WebTorrent extends EventEmitter {
    constructor(opts?: Record<string, unknown>)
    torrents: any[]
    add(torrent: unknown, opts?: Record<string, unknown>, onTorrent?: (torrent: any) => void): any
    destroy(cb?: (err?: Error) => void): void
    uploadSpeed: number
    downloadSpeed: number
  }
}
