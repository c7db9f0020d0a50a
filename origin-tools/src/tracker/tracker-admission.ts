// Which swarms the tracker lets peers join: the one decision, fed by the site's manifests: each site's
// swarm (docs/peer-protocol.md), and each asset's infohash for standard clients.

import type { Manifest } from '../../../core/manifest-format.ts'

export interface TrackerAdmission {
  /** Swarm ids (hex) admitted. */
  readonly swarmIds: ReadonlySet<string>
}

/** Everything the given manifests announce. */
export function admissionFromManifests(manifests: readonly Manifest[]): TrackerAdmission {
  const swarmIds = new Set<string>()
  for (const manifest of manifests) {
    if (manifest.swarm) swarmIds.add(manifest.swarm)
    for (const asset of manifest.assets) swarmIds.add(asset.infoHash)
  }
  return { swarmIds }
}

/** True when peers may announce `infoHash` (hex); `null` admission (no manifest given) admits any. */
export function isAdmitted(admission: TrackerAdmission | null, infoHash: string): boolean {
  return admission === null || admission.swarmIds.has(infoHash)
}
