// Which swarms the tracker lets peers join: the one decision, fed by the site's manifests. A site-wide
// swarm id (derived from the site's public key) can be added here next to the assets' infohashes.

import type { Manifest } from '../../../core/manifest-format.ts'

export interface TrackerAdmission {
  /** Swarm ids (hex) admitted. */
  readonly swarmIds: ReadonlySet<string>
}

/** Everything the given manifests announce. */
export function admissionFromManifests(manifests: readonly Manifest[]): TrackerAdmission {
  const swarmIds = new Set<string>()
  for (const manifest of manifests) for (const asset of manifest.assets) swarmIds.add(asset.infoHash)
  return { swarmIds }
}

/** True when peers may announce `infoHash` (hex); `null` admission (no manifest given) admits any. */
export function isAdmitted(admission: TrackerAdmission | null, infoHash: string): boolean {
  return admission === null || admission.swarmIds.has(infoHash)
}
