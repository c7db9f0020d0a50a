// Where verified pieces live between visits. Keyed by infoHash, so an unchanged file keeps its pieces
// across redeploys. Two implementations (IndexedDB, memory) pass test/sw-piece-store-contract.ts.

export interface PieceStore {
  /** The piece, or undefined. Marks it most recently used. */
  get(infoHash: string, index: number): Promise<Uint8Array | undefined>
  /**
   * The same piece as a Blob, undefined when absent: a response built from Blobs goes from the
   * database to the page without its bytes passing through the worker's JavaScript (stored-response.ts).
   * Marks it most recently used.
   */
  getBlob(infoHash: string, index: number): Promise<Blob | undefined>
  /**
   * Stores a verified piece, evicting least-recently-used pieces to stay within the byte budget
   * (implementations tell an `onEvicted` option which assets lost pieces).
   * Resolves false when the piece could not be stored (bigger than the budget, quota): serving still works.
   * Never rejects.
   */
  put(infoHash: string, index: number, bytes: Uint8Array): Promise<boolean>
  has(infoHash: string, index: number): Promise<boolean>
  /** Drops every piece of one asset. */
  deleteAsset(infoHash: string): Promise<void>
  /** Bytes of piece data held. */
  usageBytes(): Promise<number>
}

export function pieceKey(infoHash: string, index: number): string {
  return `${infoHash}:${index}`
}
