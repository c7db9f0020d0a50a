// Anything that can deliver pieces of an asset: the page's peer agent (peers), HTTP Range (webseed).
// The asset fetcher asks sources in priority order, verifies every piece itself and tells the source
// the verdict; a source never has to be trusted.

import type { ManifestAsset } from '../core/manifest-format.ts'
import type { PieceVerdict } from './piece-verifier.ts'

/** Where a piece served in a response came from. */
export type SourceName = 'store' | 'peers' | 'http'
export type RemoteSourceName = Exclude<SourceName, 'store'>

export const SOURCE_ORDER: readonly SourceName[] = ['store', 'peers', 'http']

export interface PieceDelivery {
  index: number
  /** Unverified bytes; the fetcher checks them against the manifest. */
  bytes: Uint8Array
  /** Set when the source found the piece in the shared store rather than fetching it (counted as store). */
  from?: 'store'
  /** Read from the browser's HTTP cache, not the network: says nothing about the origin's rate. */
  cached?: true
}

export interface PieceRequestOptions {
  /**
   * Aborted when the caller stops listening: the deadline passed, all pieces arrived, or nobody wants
   * them. Stop work and end the iterable soon after.
   */
  signal: AbortSignal
  /** The per-piece deadline the fetcher enforces for this source, if any (informational). */
  deadlineMs?: number
  /** The client (page) whose request caused this, so a peer source can ask that page first. */
  clientId?: string
}

export interface PieceSource {
  readonly name: RemoteSourceName
  /**
   * Yields pieces among `indexes` in any order, each at most once, and ends when it has nothing more
   * to give. Pieces not yielded are asked from the next source. Throwing means "this source failed":
   * the pieces not yet yielded go to the next source, the ones yielded are kept.
   */
  fetchPieces(asset: ManifestAsset, indexes: readonly number[], options: PieceRequestOptions): AsyncIterable<PieceDelivery>
  /** False when asking is pointless right now (e.g. no page agent): skipped without waiting for a deadline. */
  isAvailable?(clientId?: string): boolean
  /** Told the verification result of each piece it yielded, so bad peers can be penalised. */
  onPieceVerdict?(asset: ManifestAsset, index: number, verdict: PieceVerdict): void
}
