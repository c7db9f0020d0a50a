// Where the manifest trust state lives in the key-value store. State belongs to one deployment: its
// scope (two swarmcdn deployments on one origin must not share a sequence) and its public key (a
// rotated key starts its own rollback floor, so a huge sequence signed with a leaked old key blocks
// nothing). See docs/service-worker.md, "Key rotation".

export interface TrustStateKeys {
  /** The last accepted signed manifest (envelope text); its signed sequence is the rollback floor. */
  lastGood: string
  /** When the manifest was last checked (ms since epoch). */
  lastCheck: string
  /** ETag of the last accepted manifest response, for conditional revalidation. */
  etag: string
}

/** The names before state was kept per deployment: read once, to carry a floor over (see manifest-trust). */
export const LEGACY_TRUST_STATE_KEYS: TrustStateKeys = {
  lastGood: 'manifest.lastGoodEnvelope',
  lastCheck: 'manifest.lastCheckMs',
  etag: 'manifest.etag',
}

export function trustStateKeys(scope: string, publicKeyBase64: string): TrustStateKeys {
  const prefix = `trust ${scope} ${publicKeyBase64} `
  return { lastGood: `${prefix}lastGoodEnvelope`, lastCheck: `${prefix}lastCheckMs`, etag: `${prefix}etag` }
}
