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
