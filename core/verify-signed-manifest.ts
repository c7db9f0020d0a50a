// One place that turns envelope text into a trusted manifest, for Node and the service worker alike.

import { base64ToBytes } from './base64.ts'
import { ManifestError, checkManifestTime, parseEnvelope, validateManifest, type Manifest } from './manifest-format.ts'

/** Checks an Ed25519 signature over message; injected so Node and browsers use their own crypto. */
export type SignatureVerifier = (message: Uint8Array, signature: Uint8Array) => Promise<boolean>

export interface VerifyOptions {
  verifySignature: SignatureVerifier
  nowMs: number
  /** Highest sequence accepted before; a lower one is a rollback. */
  minSequence?: number
  /** False: skip the time window (to read the sequence of a stored, possibly expired manifest). Default true. */
  checkTime?: boolean
}

export async function verifySignedManifest(text: string, options: VerifyOptions): Promise<Manifest> {
  const envelope = parseEnvelope(text)
  const signature = base64ToBytes(envelope.signature)
  if (!signature || signature.length !== 64) throw new ManifestError('manifest-signature-invalid', 'signature is not 64 bytes of base64')
  const message = new TextEncoder().encode(envelope.manifest)
  if (!(await options.verifySignature(message, signature))) {
    throw new ManifestError('manifest-signature-invalid', 'manifest signature does not match the public key')
  }
  let value: unknown
  try {
    value = JSON.parse(envelope.manifest)
  } catch {
    throw new ManifestError('manifest-invalid', 'signed manifest body is not valid JSON')
  }
  const manifest = validateManifest(value)
  if (options.checkTime !== false) checkManifestTime(manifest, options.nowMs)
  if (options.minSequence !== undefined && manifest.sequence < options.minSequence) {
    throw new ManifestError('manifest-rollback', `manifest sequence ${manifest.sequence} is older than ${options.minSequence}`)
  }
  return manifest
}
