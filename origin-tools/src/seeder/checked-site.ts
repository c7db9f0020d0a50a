// Before seeding: the manifest must verify and every file on disk must match its pieces.

import type { KeyObject } from 'node:crypto'
import type { Manifest } from '../../../core/manifest-format.ts'
import { loadVerifiedManifest, verifyAssetFiles } from '../commands/verify.ts'
import { readEmbeddedPublicKey } from '../embedded-public-key.ts'
import { loadPublicKey } from '../keys.ts'
import { createByteProgress } from '../progress.ts'

export interface CheckedSite {
  manifest: Manifest
  /** False when no key was given or embedded: the signature was not checked. */
  signatureChecked: boolean
}

export async function checkSiteForSeeding(siteDir: string, pub: string | undefined, log: (line: string) => void): Promise<CheckedSite> {
  const publicKey: KeyObject | null = pub ? loadPublicKey(pub) : await readEmbeddedPublicKey(siteDir)
  if (!publicKey) log('note: no --pub given and no key in swarmcdn-sw.js: the manifest signature is not checked (files still are)')
  const manifest = await loadVerifiedManifest(siteDir, publicKey)
  const total = manifest.assets.reduce((sum, asset) => sum + asset.length, 0)
  const progress = createByteProgress('checking files', total, true)
  try {
    await verifyAssetFiles(siteDir, manifest, (bytes) => progress.add(bytes))
  } finally {
    progress.stop()
  }
  return { manifest, signatureChecked: publicKey !== null }
}
