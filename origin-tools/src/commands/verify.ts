// `swarmcdn verify`: signature, manifest sanity, and every asset's bytes against its pieces.

import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { verifyBytes } from '../keys.ts'
import { hashFilePieces } from '../piece-hasher.ts'
import { infoHashOf, torrentInfoOf } from '../torrent-file.ts'
import { CliError } from '../cli-error.ts'
import { assertSiteDirectory } from '../site-walk.ts'
import { MANIFEST_FILE, ManifestError, type Manifest } from '../../../core/manifest-format.ts'
import { verifySignedManifest } from '../../../core/verify-signed-manifest.ts'
import { SHA1_LENGTH } from '../../../core/piece-math.ts'

export interface VerifyResult {
  manifest: Manifest
  verifiedBytes: number
}

function failed(message: string): CliError {
  return new CliError('verify-failed', `verify failed: ${message}`)
}

/**
 * Reads and checks the signed manifest of a site; throws CliError naming the first failure.
 * With publicKey null the signature is not checked (the caller says so to the user); all else is.
 */
export async function loadVerifiedManifest(siteDir: string, publicKey: KeyObject | null, nowMs = Date.now()): Promise<Manifest> {
  await assertSiteDirectory(siteDir)
  const manifestFile = join(siteDir, MANIFEST_FILE)
  let text: string
  try {
    text = await readFile(manifestFile, 'utf8')
  } catch {
    throw new CliError('manifest-missing', `no manifest at ${manifestFile} (run: swarmcdn build ${siteDir} --key <file>)`)
  }
  try {
    return await verifySignedManifest(text, {
      nowMs,
      verifySignature: async (message, signature) => (publicKey ? verifyBytes(publicKey, message, signature) : true),
    })
  } catch (error) {
    if (error instanceof ManifestError) throw failed(`${error.code}: ${error.message}`)
    throw error
  }
}

export async function verifySite(siteDir: string, publicKey: KeyObject | null, nowMs = Date.now(), onBytes?: (bytes: number) => void): Promise<VerifyResult> {
  const manifest = await loadVerifiedManifest(siteDir, publicKey, nowMs)
  const verifiedBytes = await verifyAssetFiles(siteDir, manifest, onBytes)
  return { manifest, verifiedBytes }
}

/** Hashes every asset file on disk against the manifest; throws naming the first mismatch. */
export async function verifyAssetFiles(siteDir: string, manifest: Manifest, onBytes?: (bytes: number) => void): Promise<number> {
  let verifiedBytes = 0
  for (const asset of manifest.assets) {
    const file = siteFileForPath(siteDir, manifest.scope, asset.path)
    const info = await stat(file).catch(() => null)
    if (!info?.isFile()) throw failed(`${asset.path}: file missing (${file})`)
    if (info.size !== asset.length) throw failed(`${asset.path}: size is ${info.size}, manifest says ${asset.length}`)
    const { pieces } = await hashFilePieces(file, asset.pieceLength, onBytes)
    const expected = Buffer.from(asset.pieces, 'base64')
    for (let offset = 0; offset < expected.length; offset += SHA1_LENGTH) {
      if (!pieces.subarray(offset, offset + SHA1_LENGTH).equals(expected.subarray(offset, offset + SHA1_LENGTH))) {
        throw failed(`${asset.path}: piece ${offset / SHA1_LENGTH} does not match its hash (bytes ${(offset / SHA1_LENGTH) * asset.pieceLength}+)`)
      }
    }
    const infoHash = infoHashOf(torrentInfoOf(asset))
    if (infoHash !== asset.infoHash) throw failed(`${asset.path}: infoHash ${asset.infoHash} does not match its pieces (${infoHash})`)
    verifiedBytes += asset.length
  }
  return verifiedBytes
}

/** Disk path of an asset URL path under the site folder. */
export function siteFileForPath(siteDir: string, scope: string, path: string): string {
  const segments = path.slice(scope.length).split('/').map((segment) => decodeURIComponent(segment))
  if (segments.some((segment) => segment === '..' || segment === '.' || segment.includes('/') || segment.includes('\\'))) {
    throw failed(`${path}: path leaves the site folder`)
  }
  return join(siteDir, ...segments)
}
