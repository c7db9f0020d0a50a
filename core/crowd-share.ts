// How visitors arriving together split the pieces nobody holds yet: each fetches its own share from
// the origin first and gets the rest from the others, so a crowd pulls about one copy, not one each.
// Both sides compute the same split from the same facts: the members (this page and its connected
// peers, by sorted peer id) and the piece. Connected sets differ a little between members while a
// crowd connects; a piece then has two owners or none for a while, which costs a duplicate fetch or
// a wait (piece-scheduler.ts), never a wrong byte.

import type { CrowdShare } from './agent-protocol.ts'

/** This member's place among itself and its connected peers. */
export function crowdShareOf(myPeerId: string, connectedPeerIds: Iterable<string>): CrowdShare {
  const members = [...new Set([myPeerId, ...connectedPeerIds])].sort()
  return { rank: members.indexOf(myPeerId), of: members.length }
}

/**
 * Whether the piece is this member's to fetch from the origin. Consecutive blocks of `blockPieces`
 * pieces go to consecutive members (a block is one of the crowd's HTTP runs, config
 * webseedCrowdRunBytes: with one piece a block, a member's share at a fast origin was dozens of
 * single-piece requests, each a round trip and a fetch's CPU); the start is shifted per asset so
 * that the heads of all assets do not fall to the same member.
 */
export function ownsPiece(share: CrowdShare, infoHash: string, index: number, blockPieces = 1): boolean {
  return ownerOf(share, infoHash, index, blockPieces) === share.rank
}

/** The rank of the member whose piece it is to fetch from the origin. */
export function ownerOf(share: CrowdShare, infoHash: string, index: number, blockPieces = 1): number {
  if (share.of < 2) return share.rank
  const shift = Number.parseInt(infoHash.slice(0, 8), 16) % share.of
  return (Math.floor(index / Math.max(1, blockPieces)) + shift) % share.of
}
