// Minimal declarations for untyped dependencies: only what swarmcdn uses.

declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array
    decode(data: Uint8Array, encoding?: string): any
  }
  export default bencode
}
