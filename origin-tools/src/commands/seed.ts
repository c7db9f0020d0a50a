// `swarmcdn seed`: check the site against its manifest, then seed every asset over WebRTC.

import type { SiteSeeder } from '../seeder/site-seeder.ts'
import { startSeederProcess } from '../seeder/seeder-process.ts'
import { checkSiteForSeeding } from '../seeder/checked-site.ts'
import { absoluteTrackerUrl } from './build.ts'
import { onShutdown } from '../shutdown.ts'
import { startStatusLine } from '../status-line.ts'
import { formatBytes } from '../progress.ts'
import type { Manifest, ManifestIceServer } from '../../../core/manifest-format.ts'

export interface SeedCommandOptions {
  siteDir: string
  /** Explicit trackers; otherwise the manifest's, same-origin paths resolved against baseUrl. */
  trackers?: string[]
  baseUrl: string
  pub?: string
  /** STUN/TURN for the seeder; undefined: the manifest's. */
  iceServers?: ManifestIceServer[]
  maxUploadBytesPerSec: number
  log: (line: string) => void
}

export function trackersForSeeder(manifest: Manifest, baseUrl: string): string[] {
  return manifest.trackers.map((tracker) => absoluteTrackerUrl(tracker, baseUrl))
}

/** Tracker warnings repeat every retry; say each once. */
export function warnOnce(log: (line: string) => void): (message: string) => void {
  const seen = new Set<string>()
  return (message) => {
    const key = message.replace(/^[^:]*: /, '')
    if (seen.has(key)) return
    seen.add(key)
    log(`warning: ${message} (retrying)`)
  }
}

export function seederStatus(seeder: SiteSeeder): string {
  const s = seeder.stats()
  return `seeding ${s.torrents} assets · ${s.peers} peers · uploaded ${formatBytes(s.uploadedBytes)} · ${formatBytes(s.uploadBytesPerSec)}/s`
}

export async function seedCommand(options: SeedCommandOptions): Promise<void> {
  // Handle signals from the start: a Ctrl-C while checking files or starting must still exit cleanly.
  let seeder: SiteSeeder | null = null
  let stopStatus = () => {}
  onShutdown(async () => {
    stopStatus()
    await seeder?.close()
  }, options.log)
  const { manifest } = await checkSiteForSeeding(options.siteDir, options.pub, options.log)
  const trackers = options.trackers ?? trackersForSeeder(manifest, options.baseUrl)
  seeder = await startSeederProcess({
    siteDir: options.siteDir,
    manifest,
    trackers,
    iceServers: options.iceServers ?? manifest.iceServers ?? [],
    maxUploadBytesPerSec: options.maxUploadBytesPerSec,
    onWarning: warnOnce(options.log),
    log: options.log,
  })
  options.log(`seeding ${manifest.assets.length} assets (sequence ${manifest.sequence}) via ${trackers.join(', ') || 'no tracker'}`)
  const running = seeder
  stopStatus = startStatusLine(() => seederStatus(running))
}
