// Stores assets that went to a page untouched (origin-stream.ts), from the browser's HTTP cache, once
// the pages are quiet: one asset at a time (each is read whole into memory, up to 32 MiB), and once
// however many responses asked for it meanwhile. A page that never rests still gets its assets
// stored: the wait is bounded, counted from the request, not from the asset's turn in the queue.
// The HTTP cache may not give an asset back (evicted, never written, a read that hangs: seen in
// Firefox as a photo that stayed unstored for 15 s of requests): an asset it missed is marked, so its
// next response streams through the worker and is stored as it goes, and one asset's storing is
// bounded in time, so nothing holds up the queue for good.

import type { ManifestAsset } from '../core/manifest-format.ts'
import type { QuietGate } from './quiet-gate.ts'
import { realSetTimer, withTimeout, type SetTimer } from './with-timeout.ts'

export interface DeferredStoreDeps {
  gate: Pick<QuietGate, 'whenQuiet'>
  /** Stores the asset (adopt-cached-assets.ts); 'skipped' when the HTTP cache did not have it whole, or it did not verify. Stops when the signal aborts. */
  adopt(asset: ManifestAsset, signal: AbortSignal): Promise<'adopted' | 'skipped' | 'complete-before'>
  /** Once the asset is wholly stored (e.g. its whole copy for the warm path). */
  afterStored?(asset: ManifestAsset): Promise<void>
  onSkipped?(asset: ManifestAsset): void
  /** Longest wait for quiet, from the request. Default 3000 ms. */
  maxWaitMs?: number
  /** Longest time one asset's storing may take; then it is stopped and counts as skipped. Default 30 000 ms (a backstop: the HTTP cache read has its own bound, and a busy store may take seconds for 32 MiB). */
  adoptTimeoutMs?: number
  now?: () => number
  setTimer?: SetTimer
}

export interface DeferredStore {
  /** Stores the asset once the pages are quiet; resolves when done (or given up). */
  (asset: ManifestAsset): Promise<void>
  /** The last try to store this asset missed (skipped or timed out): its next response should not go untouched. */
  missed(asset: ManifestAsset): boolean
}

export function createDeferredStore(deps: DeferredStoreDeps): DeferredStore {
  const maxWaitMs = deps.maxWaitMs ?? 3000
  const adoptTimeoutMs = deps.adoptTimeoutMs ?? 30_000
  const now = deps.now ?? (() => performance.now())
  const pending = new Map<string, Promise<void>>()
  const missed = new Set<string>()
  let queue: Promise<unknown> = Promise.resolve()

  function adoptInTime(asset: ManifestAsset): Promise<'adopted' | 'skipped' | 'complete-before'> {
    const controller = new AbortController()
    return withTimeout(deps.adopt(asset, controller.signal), adoptTimeoutMs, () => (controller.abort(), 'skipped' as const), deps.setTimer ?? realSetTimer)
  }

  const store = (asset: ManifestAsset): Promise<void> => {
    const known = pending.get(asset.infoHash)
    if (known) return known
    const latest = now() + maxWaitMs
    const work = queue
      .then(() => deps.gate.whenQuiet(Math.max(0, latest - now())))
      .then(async () => {
        const outcome = await adoptInTime(asset).catch(() => 'skipped' as const)
        if (outcome === 'skipped') {
          missed.add(asset.infoHash)
          deps.onSkipped?.(asset)
        } else {
          missed.delete(asset.infoHash)
          await deps.afterStored?.(asset)
        }
      })
      .catch(() => undefined)
      .finally(() => pending.delete(asset.infoHash))
    pending.set(asset.infoHash, work)
    queue = work
    return work
  }
  return Object.assign(store, { missed: (asset: ManifestAsset) => missed.has(asset.infoHash) })
}
