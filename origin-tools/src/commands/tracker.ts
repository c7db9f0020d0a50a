// `swarmcdn tracker`: a standalone WebSocket tracker (any path upgrades; GET /stats is JSON).

import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { SwarmTracker, TRACKER_DEFAULTS, admittedIds } from '../tracker/swarm-tracker.ts'
import { listen, displayHost } from '../listen.ts'
import { onShutdown } from '../shutdown.ts'
import { CliError } from '../cli-error.ts'
import { parseEnvelope, validateManifest, ManifestError } from '../../../core/manifest-format.ts'

export interface TrackerCommandOptions {
  port: number
  host: string
  manifests: string[]
  maxOffersPerAnnounce: number
  log: (line: string) => void
}

/** Infohashes admitted by the given manifest files (their signatures are the site's business). */
export async function infoHashesFromManifests(files: string[]): Promise<Set<string>> {
  const allowed = new Set<string>()
  for (const file of files) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch {
      throw new CliError('manifest-missing', `cannot read manifest ${file}`)
    }
    try {
      const manifest = validateManifest(JSON.parse(parseEnvelope(text).manifest))
      for (const id of admittedIds(manifest)) allowed.add(id)
    } catch (error) {
      throw new CliError('verify-failed', `${file} is not a swarmcdn manifest: ${error instanceof ManifestError ? error.message : 'invalid JSON'}`)
    }
  }
  return allowed
}

export async function runTracker(options: TrackerCommandOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const allowed = options.manifests.length > 0 ? await infoHashesFromManifests(options.manifests) : null
  const tracker = new SwarmTracker({ ...TRACKER_DEFAULTS, allowedInfoHashes: allowed, maxOffersPerAnnounce: options.maxOffersPerAnnounce })
  const server = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://t').pathname === '/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
      res.end(JSON.stringify(tracker.stats()))
      return
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('swarmcdn tracker: connect with WebSocket; stats at /stats\n')
  })
  server.on('upgrade', (req, socket, head) => tracker.handleUpgrade(req, socket, head))
  const port = await listen(server, options.port, options.host)
  const host = displayHost(options.host)
  options.log(`tracker: ws://${host}:${port}  (stats: http://${host}:${port}/stats; ${allowed ? `${allowed.size} infohashes admitted` : 'any infohash admitted'})`)
  const close = async () => {
    await tracker.close()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return { port, close }
}

export async function trackerCommand(options: TrackerCommandOptions): Promise<void> {
  const { close } = await runTracker(options)
  onShutdown(close, options.log)
}
