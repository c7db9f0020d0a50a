// Stores assets that went to a page untouched (origin-stream.ts), from the browser's HTTP cache, once
// the pages are quiet: one asset at a time (each is read whole into memory, up to 32 MiB), and once
// however many responses asked for it meanwhile. A page that never rests still gets its assets
// stored: the wait is bounded, counted from the request, not from the asset's turn in the queue.

import type { ManifestAsset } from '../core/manifest-format.ts'
import type { QuietGate } from './quiet-gate.ts'

export interface DeferredStoreDeps {
  gate: Pick<QuietGate, 'whenQuiet'>
  /** Stores the asset (adopt-cached-assets.ts); 'skipped' when the HTTP cache did not have it whole, or it did not verify. */
  adopt(asset: ManifestAsset): Promise<'adopted' | 'skipped' | 'complete-before'>
  /** Once the asset is wholly stored (e.g. its whole copy for the warm path). */
  afterStored?(asset: ManifestAsset): Promise<void>
  onSkipped?(asset: ManifestAsset): void
  /** Longest wait for quiet, from the request. Default 3000 ms. */
  maxWaitMs?: number
  now?: () => number
}

export type DeferredStore = (asset: ManifestAsset) => Promise<void>

export function createDeferredStore(deps: DeferredStoreDeps): DeferredStore {
  const maxWaitMs = deps.maxWaitMs ?? 3000
  const now = deps.now ?? (() => performance.now())
  const pending = new Map<string, Promise<void>>()
  let queue: Promise<unknown> = Promise.resolve()
  return (asset) => {
    const known = pending.get(asset.infoHash)
    if (known) return known
    const latest = now() + maxWaitMs
    const work = queue
      .then(() => deps.gate.whenQuiet(Math.max(0, latest - now())))
      .then(async () => {
        const outcome = await deps.adopt(asset)
        if (outcome === 'skipped') deps.onSkipped?.(asset)
        else await deps.afterStored?.(asset)
      })
      .catch(() => undefined)
      .finally(() => pending.delete(asset.infoHash))
    pending.set(asset.infoHash, work)
    queue = work
    return work
  }
}
