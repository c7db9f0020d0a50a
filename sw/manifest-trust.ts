// Which manifest the SW trusts right now. Decides; never acts: side effects of a kill switch
// (unregister, telling pages) belong to sw-entry.ts.
//
// Rules: a manifest is accepted only if its Ed25519 signature verifies, it is not expired and its
// sequence is not below the highest accepted before (persisted). A rejected fetch never stops the
// site: the last good manifest stays while it has not expired; after that there is no manifest and
// the SW routes nothing.

import type { Manifest } from '../core/manifest-format.ts'
import { verifySignedManifest, type SignatureVerifier } from '../core/verify-signed-manifest.ts'
import { SwError, toSwError } from './errors.ts'
import type { KeyValueStore } from './key-value-store.ts'

export type TrustStatus = 'active' | 'killed' | 'none'

export type TrustState =
  | { status: 'active'; manifest: Manifest }
  /** A verified manifest with killSwitch: route nothing, unregister. */
  | { status: 'killed'; manifest: Manifest }
  | { status: 'none' }

export interface RefreshOutcome {
  accepted: boolean
  /** Why the fetched manifest was refused (the state may still hold the last good one). */
  error?: SwError
  state: TrustState
}

export interface ManifestTrustOptions {
  fetch: (url: string, init: RequestInit) => Promise<Response>
  /** Absolute URL of the signed manifest. */
  manifestUrl: string
  verifySignature: SignatureVerifier
  kv: KeyValueStore
  now: () => number
  refreshIntervalMs: number
}

export interface ManifestTrust {
  /** The manifest to route with, or null (not loaded, none valid, or killed). */
  current(): Manifest | null
  state(): TrustState
  isLoaded(): boolean
  /** Restores the last good manifest from the store; fetches when there is none. Never rejects. */
  load(): Promise<TrustState>
  /** Fetches, verifies and maybe accepts the manifest now (concurrent calls share one fetch). Never rejects. */
  refresh(): Promise<RefreshOutcome>
  /** refresh() if the last check is older than minAgeMs (and the manifest was loaded), else null. */
  refreshIfOlderThan(minAgeMs: number): Promise<RefreshOutcome> | null
  /** refreshIfOlderThan(refreshIntervalMs). */
  refreshIfStale(): Promise<RefreshOutcome> | null
}

const KEY_HIGHEST_SEQUENCE = 'manifest.highestSequence'
const KEY_LAST_GOOD = 'manifest.lastGoodEnvelope'
const KEY_LAST_CHECK = 'manifest.lastCheckMs'

/** Ed25519 verification through WebCrypto (service worker, and Node 20's globalThis.crypto). */
export function createEd25519Verifier(publicKey: Uint8Array, subtle: SubtleCrypto = crypto.subtle): SignatureVerifier {
  let key: Promise<CryptoKey> | undefined
  return async (message, signature) => {
    key ??= subtle.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify'])
    return subtle.verify('Ed25519', await key, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>)
  }
}

/** A manifest fetch that takes longer than this fails (and the last good manifest stays). */
const MANIFEST_FETCH_TIMEOUT_MS = 10_000

export function createManifestTrust(options: ManifestTrustOptions): ManifestTrust {
  const { kv, now } = options
  let lastGood: Manifest | null = null
  let highestSequence = 0
  // Persisted so a SW woken every few seconds does not refetch the manifest each time.
  let lastCheckMs = Number.NEGATIVE_INFINITY
  let loaded = false
  let loading: Promise<TrustState> | undefined
  let refreshing: Promise<RefreshOutcome> | undefined

  function state(): TrustState {
    if (!lastGood) return { status: 'none' }
    // A kill switch stays in force even past its expiry: stepping aside is always safe.
    if (lastGood.killSwitch) return { status: 'killed', manifest: lastGood }
    if (Date.parse(lastGood.expiresAt) <= now()) return { status: 'none' }
    return { status: 'active', manifest: lastGood }
  }

  async function restore(): Promise<void> {
    try {
      highestSequence = Number(await kv.get(KEY_HIGHEST_SEQUENCE)) || 0
      lastCheckMs = Number(await kv.get(KEY_LAST_CHECK)) || Number.NEGATIVE_INFINITY
      const text = await kv.get(KEY_LAST_GOOD)
      if (text === undefined) return
      // Re-verified on every start: the stored copy is no more trusted than the network one.
      lastGood = await verifySignedManifest(text, { verifySignature: options.verifySignature, nowMs: now(), minSequence: highestSequence })
    } catch {
      lastGood = null
    }
  }

  async function fetchAndVerify(): Promise<RefreshOutcome> {
    lastCheckMs = now()
    try {
      let response: Response
      try {
        response = await options.fetch(options.manifestUrl, { cache: 'no-store', credentials: 'same-origin', signal: AbortSignal.timeout(MANIFEST_FETCH_TIMEOUT_MS) })
      } catch (error) {
        throw new SwError('manifest-fetch-failed', `manifest fetch failed: ${String(error)}`, { cause: error })
      }
      if (!response.ok) throw new SwError('manifest-fetch-failed', `manifest fetch returned HTTP ${response.status}`)
      const text = await response.text()
      const manifest = await verifySignedManifest(text, {
        verifySignature: options.verifySignature,
        nowMs: now(),
        minSequence: highestSequence,
      })
      lastGood = manifest
      highestSequence = manifest.sequence
      await persist([
        [KEY_HIGHEST_SEQUENCE, String(highestSequence)],
        [KEY_LAST_GOOD, text],
        [KEY_LAST_CHECK, String(lastCheckMs)],
      ])
      return { accepted: true, state: state() }
    } catch (error) {
      await persist([[KEY_LAST_CHECK, String(lastCheckMs)]])
      return { accepted: false, error: toSwError(error), state: state() }
    }
  }

  async function persist(entries: Array<[string, string]>): Promise<void> {
    // Best-effort: losing the persisted state costs a refetch, never correctness of this session.
    await Promise.all(entries.map(([key, value]) => kv.set(key, value))).catch(() => undefined)
  }

  const trust: ManifestTrust = {
    current() {
      const s = state()
      return s.status === 'active' ? s.manifest : null
    },
    state,
    isLoaded: () => loaded,
    load() {
      loading ??= (async () => {
        await restore()
        // With a last good manifest, route at once; a stale one is refreshed lazily by the next fetch event.
        // Without one, fetch, unless a check was made within the interval (a SW woken every few seconds
        // with an expired or refused manifest must not refetch each time).
        if (!lastGood && now() - lastCheckMs >= options.refreshIntervalMs) await trust.refresh()
        loaded = true
        return state()
      })()
      return loading
    },
    refresh() {
      refreshing ??= fetchAndVerify().finally(() => {
        refreshing = undefined
      })
      return refreshing
    },
    refreshIfOlderThan(minAgeMs) {
      if (refreshing) return refreshing
      if (!loaded || now() - lastCheckMs < minAgeMs) return null
      return trust.refresh()
    },
    refreshIfStale() {
      return trust.refreshIfOlderThan(options.refreshIntervalMs)
    },
  }
  return trust
}
