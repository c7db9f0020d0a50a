// Offload counters: bytes served per source, per asset and in total, plus recent request tallies.
// Pages read them with {type:'swarmcdn:get-stats'} (see messages.ts).

import type { ManifestAsset } from '../core/manifest-format.ts'
import type { SourceName } from './piece-source.ts'

export type SourceBytes = Record<SourceName, number>

export interface AssetCounters {
  path: string
  infoHash: string
  requests: number
  bytes: SourceBytes
  /** Pieces a source sent that failed verification. */
  rejectedPieces: Record<Exclude<SourceName, 'store'>, number>
}

export interface RequestTallySnapshot {
  path: string
  status: number
  start: number
  end: number
  bytes: SourceBytes
  outcome: 'streaming' | 'complete' | 'error' | 'cancelled'
}

export interface StatsSnapshot {
  totals: { requests: number; bytes: SourceBytes; rejectedPieces: Record<Exclude<SourceName, 'store'>, number> }
  assets: Record<string, AssetCounters>
  /** The most recent requests, newest last. */
  recent: RequestTallySnapshot[]
}

export interface RequestTally {
  add(source: SourceName, bytes: number): void
  finish(outcome: RequestTallySnapshot['outcome']): void
  /** Sources that contributed bytes so far, in SOURCE_ORDER. */
  sources(): SourceName[]
  readonly snapshot: RequestTallySnapshot
}

export interface AssetStats {
  beginRequest(asset: ManifestAsset, info: { status: number; start: number; end: number }): RequestTally
  pieceRejected(asset: ManifestAsset, source: Exclude<SourceName, 'store'>): void
  snapshot(): StatsSnapshot
}

const emptyBytes = (): SourceBytes => ({ store: 0, peers: 0, http: 0 })

export function createAssetStats(options: { recentLimit?: number } = {}): AssetStats {
  const recentLimit = options.recentLimit ?? 50
  const assets = new Map<string, AssetCounters>()
  const totals: StatsSnapshot['totals'] = { requests: 0, bytes: emptyBytes(), rejectedPieces: { peers: 0, http: 0 } }
  const recent: RequestTallySnapshot[] = []

  const countersFor = (asset: ManifestAsset) => {
    let counters = assets.get(asset.path)
    if (!counters || counters.infoHash !== asset.infoHash) {
      counters = { path: asset.path, infoHash: asset.infoHash, requests: 0, bytes: emptyBytes(), rejectedPieces: { peers: 0, http: 0 } }
      assets.set(asset.path, counters)
    }
    return counters
  }

  return {
    beginRequest(asset, info) {
      const counters = countersFor(asset)
      counters.requests++
      totals.requests++
      const snapshot: RequestTallySnapshot = { path: asset.path, ...info, bytes: emptyBytes(), outcome: 'streaming' }
      recent.push(snapshot)
      if (recent.length > recentLimit) recent.shift()
      return {
        snapshot,
        add(source, bytes) {
          snapshot.bytes[source] += bytes
          counters.bytes[source] += bytes
          totals.bytes[source] += bytes
        },
        finish(outcome) {
          if (snapshot.outcome === 'streaming') snapshot.outcome = outcome
        },
        sources() {
          return (['store', 'peers', 'http'] as const).filter((name) => snapshot.bytes[name] > 0)
        },
      }
    },
    pieceRejected(asset, source) {
      countersFor(asset).rejectedPieces[source]++
      totals.rejectedPieces[source]++
    },
    snapshot() {
      // A structured-clone-safe deep copy.
      return JSON.parse(JSON.stringify({ totals, assets: Object.fromEntries(assets), recent })) as StatsSnapshot
    },
  }
}
