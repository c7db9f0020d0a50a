// Where pieces come from: the store, the page's peer agent (peers), HTTP Range (webseed). Every piece
// from a source is verified before it is delivered; a source never has to be trusted.

/** Where a piece served in a response came from. */
export type SourceName = 'store' | 'peers' | 'http'

export const SOURCE_ORDER: readonly SourceName[] = ['store', 'peers', 'http']

export interface PieceDelivery {
  index: number
  /** Unverified bytes; the fetcher checks them against the manifest. */
  bytes: Uint8Array
  /** Read from the browser's HTTP cache, not the network: says nothing about the origin's rate. */
  cached?: true
}
