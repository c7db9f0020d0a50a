// `swarmcdn serve`: the embedded default. Static origin + tracker + seeder in one process.

import { createOriginServer } from '../origin/origin-server.ts'
import { SwarmTracker, TRACKER_DEFAULTS } from '../tracker/swarm-tracker.ts'
import { startSeeder, type SiteSeeder } from '../seeder/site-seeder.ts'
import { checkSiteForSeeding } from '../seeder/checked-site.ts'
import { listen, displayHost } from '../listen.ts'
import { onShutdown } from '../shutdown.ts'
import { startStatusLine } from '../status-line.ts'
import { formatBytes } from '../progress.ts'
import { assertSiteDirectory } from '../site-walk.ts'
import { seederStatus, warnOnce } from './seed.ts'
import { SAME_ORIGIN_TRACKER_PATH, type Manifest } from '../../../core/manifest-format.ts'

export interface ServeCommandOptions {
  siteDir: string
  port: number
  host: string
  tracker: boolean
  seed: boolean
  pub?: string
  iceServers: string[]
  maxUploadBytesPerSec: number
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
    ? new SwarmTracker({ ...TRACKER_DEFAULTS, allowedInfoHashes: new Set(manifest!.assets.map((asset) => asset.infoHash)) })
    : null
  let seeder: SiteSeeder | null = null
  const origin = createOriginServer({
    siteDir: options.siteDir,
    tracker,
    extraStats: { '/__swarmcdn/seeder-stats': () => seeder?.stats() ?? null },
  })
  const port = await listen(origin.server, options.port, options.host)
  const url = `http://${displayHost(options.host)}:${port}/`

  if (options.seed && manifest) {
    const connectHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host
    const trackers = manifest.trackers.map((tracker) =>
      tracker.startsWith('/') ? `ws://${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${port}${tracker}` : tracker,
    )
    seeder = await startSeeder({
      siteDir: options.siteDir,
      manifest,
      trackers,
      iceServers: options.iceServers.map((urls) => ({ urls })),
      maxUploadBytesPerSec: options.maxUploadBytesPerSec,
      onWarning: warnOnce(options.log),
    })
  }

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
      return `origin served ${formatBytes(served.totalBytes)} in ${served.totalRequests} requests${swarm}${seeder ? ` · ${seederStatus(seeder)}` : ''}`
    },
    async close() {
      await seeder?.close()
      await tracker?.close()
      origin.server.closeAllConnections()
      await new Promise<void>((resolve) => origin.server.close(() => resolve()))
    },
  }
}

export async function serveCommand(options: ServeCommandOptions): Promise<void> {
  const running = await runServe(options)
  const stopStatus = startStatusLine(() => running.status())
  onShutdown(async () => {
    stopStatus()
    await running.close()
  }, options.log)
}
