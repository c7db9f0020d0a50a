// Streams a file once and returns its SHA-1 piece hashes; memory stays at one read buffer.

import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { fsErrorToCliError } from './cli-error.ts'
import { SHA1_LENGTH, pieceCount } from '../../core/piece-math.ts'

const READ_BUFFER_BYTES = 1024 * 1024

export interface HashedFile {
  length: number
  /** Concatenated 20-byte SHA-1 digests. */
  pieces: Buffer
}

export async function hashFilePieces(file: string, pieceLength: number, onBytes?: (bytes: number) => void): Promise<HashedFile> {
  const digests: Buffer[] = []
  let hash: Hash = createHash('sha1')
  let inPiece = 0
  let length = 0
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: READ_BUFFER_BYTES }) as AsyncIterable<Buffer>) {
      let offset = 0
      while (offset < chunk.length) {
        const take = Math.min(pieceLength - inPiece, chunk.length - offset)
        hash.update(chunk.subarray(offset, offset + take))
        inPiece += take
        offset += take
        if (inPiece === pieceLength) {
          digests.push(hash.digest())
          hash = createHash('sha1')
          inPiece = 0
        }
      }
      length += chunk.length
      onBytes?.(chunk.length)
    }
  } catch (error) {
    throw fsErrorToCliError(error, file, 'file')
  }
  if (inPiece > 0) digests.push(hash.digest())
  const pieces = Buffer.concat(digests)
  if (pieces.length !== pieceCount(length, pieceLength) * SHA1_LENGTH) throw new Error('internal: piece count mismatch')
  return { length, pieces }
}
