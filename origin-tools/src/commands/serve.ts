// `swarmcdn serve`: the embedded default. Static origin + tracker + seeder in one process.

import { createOriginServer } from '../origin/origin-server.ts'
import { SwarmTracker, type TrackerConfig } from '../tracker/swarm-tracker.ts'
import { admissionFromManifests } from '../tracker/tracker-admission.ts'
import type { SiteSeeder } from '../seeder/site-seeder.ts'
import { startSeederProcess } from '../seeder/seeder-process.ts'
import { checkSiteForSeeding } from '../seeder/checked-site.ts'
import { listen, displayHost } from '../listen.ts'
import { onShutdown } from '../shutdown.ts'
import { startStatusLine } from '../status-line.ts'
import { formatBytes } from '../progress.ts'
import { assertSiteDirectory } from '../site-walk.ts'
import { seederStatus, warnOnce } from './seed.ts'
import { MANIFEST_FILE, SAME_ORIGIN_TRACKER_PATH, type Manifest, type ManifestIceServer } from '../../../core/manifest-format.ts'
import { watchFile, unwatchFile } from 'node:fs'
import { join } from 'node:path'

export interface ServeCommandOptions {
  siteDir: string
  port: number
  host: string
  tracker: boolean
  seed: boolean
  pub?: string
  /** STUN/TURN for the seeder; undefined: the manifest's. */
  iceServers?: ManifestIceServer[]
  maxUploadBytesPerSec: number
  /** Tracker limits from the command line; the rest take TRACKER_DEFAULTS. */
  trackerLimits?: Partial<TrackerConfig>
  log: (line: string) => void
}

export interface RunningServe {
  port: number
  url: string
  /** One line: origin bytes, tracker peers, seeder upload. */
  status(): string
  close(): Promise<void>
}

export async function runServe(options: ServeCommandOptions): Promise<RunningServe> {
  await assertSiteDirectory(options.siteDir)
  // The manifest must verify before we seed it or admit its swarms; a plain static server needs none.
  let manifest: Manifest | null = null
  if (options.tracker || options.seed) manifest = (await checkSiteForSeeding(options.siteDir, options.pub, options.log)).manifest

  const tracker = options.tracker
    ? new SwarmTracker({ ...options.trackerLimits, admission: admissionFromManifests([manifest!]) })
    : null
  let seeder: SiteSeeder | null = null
  const origin = createOriginServer({
    siteDir: options.siteDir,
    tracker,
    extraStats: { '/__swarmcdn/seeder-stats': () => seeder?.stats() ?? null },
  })
  const port = await listen(origin.server, options.port, options.host)
  const url = `http://${displayHost(options.host)}:${port}/`

  const startSeeding = async (current: Manifest) => {
    const connectHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host
    const trackers = current.trackers.map((tracker) =>
      tracker.startsWith('/') ? `ws://${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${port}${tracker}` : tracker,
    )
    return startSeederProcess({
      siteDir: options.siteDir,
      manifest: current,
      trackers,
      iceServers: options.iceServers ?? current.iceServers ?? [],
      maxUploadBytesPerSec: options.maxUploadBytesPerSec,
      onWarning: warnOnce(options.log),
      log: options.log,
    })
  }
  if (options.seed && manifest) seeder = await startSeeding(manifest)

  // A rebuild while serving: check the new manifest, then admit and seed its swarms.
  const manifestFile = join(options.siteDir, MANIFEST_FILE)
  let reloading = Promise.resolve()
  const onManifestChange = () => {
    reloading = reloading.then(async () => {
      try {
        const next = (await checkSiteForSeeding(options.siteDir, options.pub, () => {})).manifest
        if (manifest && next.sequence === manifest.sequence) return
        manifest = next
        tracker?.setAdmission(admissionFromManifests([next]))
        if (seeder) {
          await seeder.close()
          seeder = await startSeeding(next)
        }
        options.log(`manifest sequence ${next.sequence}: ${next.assets.length} assets admitted${seeder ? ' and seeded' : ''}`)
      } catch (error) {
        options.log(`warning: the rebuilt manifest was not taken (${(error as Error).message}); keeping sequence ${manifest?.sequence ?? 'none'}`)
      }
    })
  }
  if (tracker || seeder) watchFile(manifestFile, { interval: 1000 }, onManifestChange)

  const parts = [
    tracker ? `tracker ws://${displayHost(options.host)}:${port}${SAME_ORIGIN_TRACKER_PATH}` : 'no tracker',
    seeder ? `seeding ${manifest!.assets.length} assets` : 'not seeding',
    `origin stats ${url}__swarmcdn/origin-stats`,
  ]
  options.log(`swarmcdn serve: open ${url}\n  ${parts.join(' · ')}`)

  return {
    port,
    url,
    status() {
      const served = origin.counter.snapshot()
      const swarm = tracker ? ` · tracker ${tracker.stats().peers} peers` : ''
      const seeding = seeder ? ` · ${seederStatus(seeder)}` : ''
      return `origin served ${formatBytes(served.totalBytes)} in ${served.totalRequests} requests${swarm}${seeding}`
    },
    async close() {
      unwatchFile(manifestFile, onManifestChange)
      await reloading
      await seeder?.close()
      await tracker?.close()
      origin.server.closeAllConnections()
      await new Promise<void>((resolve) => origin.server.close(() => resolve()))
    },
  }
}

export async function serveCommand(options: ServeCommandOptions): Promise<void> {
  // Handle signals from the start: a Ctrl-C while checking files or starting must still exit cleanly.
  let running: RunningServe | null = null
  let stopStatus = () => {}
  onShutdown(async () => {
    stopStatus()
    await running?.close()
  }, options.log)
  running = await runServe(options)
  const started = running
  stopStatus = startStatusLine(() => started.status())
}
