// Which manifest the SW trusts right now. Decides; never acts: side effects of a kill switch
// (unregister, telling pages) belong to sw-entry.ts.
//
// Rules: a manifest is accepted only if its Ed25519 signature verifies, it is not expired and its
// sequence is not below the highest accepted before. A rejected fetch never stops the site: the last
// good manifest stays while it has not expired; after that there is no manifest and the SW routes nothing.
//
// The persisted state is no more trusted than the network: any script of the origin can write
// IndexedDB. So the rollback floor is the sequence of the stored manifest whose signature verifies
// (a bare number could be set to block every update), a check time in the future counts as stale,
// and the state is kept per deployment (scope and public key: trust-state-keys.ts).

import type { Manifest } from '../core/manifest-format.ts'
import { verifySignedManifest, type SignatureVerifier } from '../core/verify-signed-manifest.ts'
import { checkManifestTime } from '../core/manifest-format.ts'
import { SwError, toSwError } from './errors.ts'
import type { KeyValueStore } from './key-value-store.ts'
import { LEGACY_TRUST_STATE_KEYS, type TrustStateKeys } from './trust-state-keys.ts'

export type TrustStatus = 'active' | 'killed' | 'none'

export type TrustState =
  | { status: 'active'; manifest: Manifest }
  /** A verified manifest with killSwitch: route nothing, unregister. */
  | { status: 'killed'; manifest: Manifest }
  | { status: 'none' }

export interface RefreshOutcome {
  accepted: boolean
  /** The origin answered 304: the manifest held is still the current one. */
  unchanged?: boolean
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
  /** Where the state lives; default the legacy names (one deployment per origin). */
  stateKeys?: TrustStateKeys
  /**
   * This deployment's scope path. With per-deployment stateKeys and nothing stored under them, a
   * legacy stored manifest is carried over if it is signed with this key and has this scope.
   */
  scope?: string
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
  /**
   * On a navigation: once loaded, a conditional check (If-None-Match) if the last one is older than
   * minAgeMs, so a deploy takes effect on the next page load. pending() returns it at once. Never rejects.
   */
  revalidate(minAgeMs: number): Promise<RefreshOutcome | null>
  /** The load, revalidation or refresh under way, if any: requests wait for it (bounded) before routing. */
  pending(): Promise<unknown> | null
}

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
  const keys = options.stateKeys ?? LEGACY_TRUST_STATE_KEYS
  let lastGood: Manifest | null = null
  let highestSequence = 0
  let etag: string | null = null
  let revalidating: Promise<RefreshOutcome | null> | undefined
  // Persisted so a SW woken every few seconds does not refetch the manifest each time.
  let lastCheckMs = Number.NEGATIVE_INFINITY
  let loaded = false
  let loading: Promise<TrustState> | undefined
  let refreshing: Promise<RefreshOutcome> | undefined

  /** lastGood's expiry, parsed once per manifest: state() is asked for every request and piece. */
  let expiry: { of: Manifest; ms: number } | null = null
  function expiresAtMs(manifest: Manifest): number {
    if (expiry?.of !== manifest) expiry = { of: manifest, ms: Date.parse(manifest.expiresAt) }
    return expiry.ms
  }

  function state(): TrustState {
    if (!lastGood) return { status: 'none' }
    // A kill switch stays in force even past its expiry: stepping aside is always safe.
    if (lastGood.killSwitch) return { status: 'killed', manifest: lastGood }
    if (expiresAtMs(lastGood) <= now()) return { status: 'none' }
    return { status: 'active', manifest: lastGood }
  }

  /** A stored envelope whose signature and shape verify (time not checked), or null. */
  async function signedCopy(text: string | undefined): Promise<Manifest | null> {
    if (text === undefined) return null
    try {
      return await verifySignedManifest(text, { verifySignature: options.verifySignature, nowMs: now(), checkTime: false })
    } catch {
      return null
    }
  }

  async function restore(): Promise<void> {
    try {
      let stored = await signedCopy(await kv.get(keys.lastGood))
      if (stored) etag = (await kv.get(keys.etag)) || null
      else if (keys !== LEGACY_TRUST_STATE_KEYS && options.scope !== undefined) {
        // State from before it was kept per deployment: ours only if our key signed it for our scope.
        const legacy = await signedCopy(await kv.get(LEGACY_TRUST_STATE_KEYS.lastGood))
        stored = legacy && legacy.scope === options.scope ? legacy : null
      }
      // The floor is what the key really signed; a stored number alone could block every update.
      highestSequence = stored?.sequence ?? 0
      const checked = Number(await kv.get(keys.lastCheck))
      // A check "in the future" is impossible (or written by someone else): treat it as stale.
      lastCheckMs = Number.isFinite(checked) && checked <= now() ? checked : Number.NEGATIVE_INFINITY
      if (!stored) return
      // Re-verified on every start: the stored copy is no more trusted than the network one.
      checkManifestTime(stored, now())
      lastGood = stored
    } catch {
      lastGood = null
    }
  }

  async function fetchAndVerify(): Promise<RefreshOutcome> {
    lastCheckMs = now()
    // Conditional only while a manifest is in force: a 304 then means "keep it".
    const conditional = etag !== null && state().status !== 'none' ? etag : null
    try {
      let response: Response
      try {
        response = await options.fetch(options.manifestUrl, {
          cache: 'no-store',
          credentials: 'same-origin',
          signal: AbortSignal.timeout(MANIFEST_FETCH_TIMEOUT_MS),
          ...(conditional ? { headers: { 'If-None-Match': conditional } } : {}),
        })
      } catch (error) {
        throw new SwError('manifest-fetch-failed', `manifest fetch failed: ${String(error)}`, { cause: error })
      }
      if (response.status === 304 && conditional) {
        await persist([[keys.lastCheck, String(lastCheckMs)]])
        return { accepted: true, unchanged: true, state: state() }
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
      etag = response.headers.get('etag')
      await persist([
        [keys.lastGood, text],
        [keys.lastCheck, String(lastCheckMs)],
        [keys.etag, etag ?? ''],
      ])
      return { accepted: true, state: state() }
    } catch (error) {
      await persist([[keys.lastCheck, String(lastCheckMs)]])
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
        // with an expired or refused manifest must not refetch each time). A stored kill switch is
        // always checked again: a newer signed manifest lifts it (a killed SW is installed again at
        // most once a day by swarmcdn.js, so this costs little).
        if ((!lastGood && now() - lastCheckMs >= options.refreshIntervalMs) || lastGood?.killSwitch) await trust.refresh()
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
    revalidate(minAgeMs) {
      revalidating ??= trust
        .load()
        .then(() => trust.refreshIfOlderThan(minAgeMs))
        .finally(() => {
          revalidating = undefined
        })
      return revalidating
    },
    pending() {
      return refreshing ?? revalidating ?? (loaded ? null : (loading ?? null))
    },
  }
  return trust
}
