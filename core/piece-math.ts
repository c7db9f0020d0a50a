// Piece arithmetic shared by the build tools and the service worker.

export const SHA1_LENGTH = 20
/** Smallest piece length accepted: one BitTorrent wire block. */
export const MIN_PIECE_LENGTH = 16 * 1024
export const MAX_PIECE_LENGTH = 64 * 1024 * 1024

export function pieceCount(length: number, pieceLength: number): number {
  return Math.ceil(length / pieceLength)
}

/** Byte length of piece `index` (the last piece may be short). */
export function pieceSize(index: number, length: number, pieceLength: number): number {
  return Math.min(pieceLength, length - index * pieceLength)
}

/** Inclusive range of piece indexes covering bytes [start, end] (inclusive). */
export function piecesForByteRange(start: number, end: number, pieceLength: number): { first: number; last: number } {
  return { first: Math.floor(start / pieceLength), last: Math.floor(end / pieceLength) }
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0
}

/**
 * Default piece length for a file: aim for about 1,000 pieces, between 64 KiB
 * and 4 MiB. Small pieces give a fast first byte and fine-grained seeking and
 * offload; the upper bound keeps the manifest small (20 bytes per piece) for
 * big downloads.
 */
export function autoPieceLength(length: number): number {
  const min = 64 * 1024
  const max = 4 * 1024 * 1024
  let pieceLength = min
  while (pieceLength < max && length / pieceLength > 1024) pieceLength *= 2
  return pieceLength
}
