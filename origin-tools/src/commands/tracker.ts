// `swarmcdn tracker`: a standalone WebSocket tracker (any path upgrades; GET /stats is JSON).

import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { SwarmTracker, type TrackerConfig } from '../tracker/swarm-tracker.ts'
import { admissionFromManifests } from '../tracker/tracker-admission.ts'
import { listen, displayHost } from '../listen.ts'
import { onShutdown } from '../shutdown.ts'
import { CliError } from '../cli-error.ts'
import { parseEnvelope, validateManifest, ManifestError, type Manifest } from '../../../core/manifest-format.ts'

export interface TrackerCommandOptions {
  port: number
  host: string
  manifests: string[]
  /** Limits from the command line; the rest take TRACKER_DEFAULTS. */
  limits?: Partial<TrackerConfig>
  log: (line: string) => void
}

/** The given manifest files (their signatures are the site's business: the tracker only admits swarms). */
export async function readManifests(files: string[]): Promise<Manifest[]> {
  const manifests: Manifest[] = []
  for (const file of files) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch {
      throw new CliError('manifest-missing', `cannot read manifest ${file}`)
    }
    try {
      manifests.push(validateManifest(JSON.parse(parseEnvelope(text).manifest)))
    } catch (error) {
      throw new CliError('verify-failed', `${file} is not a swarmcdn manifest: ${error instanceof ManifestError ? error.message : 'invalid JSON'}`)
    }
  }
  return manifests
}

export async function runTracker(options: TrackerCommandOptions): Promise<{ port: number; tracker: SwarmTracker; close: () => Promise<void> }> {
  const admission = options.manifests.length > 0 ? admissionFromManifests(await readManifests(options.manifests)) : null
  const tracker = new SwarmTracker({ ...options.limits, admission })
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
  options.log(`tracker: ws://${host}:${port}  (stats: http://${host}:${port}/stats; ${admission ? `${admission.swarmIds.size} infohashes admitted` : 'any infohash admitted'})`)
  const close = async () => {
    await tracker.close()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return { port, tracker, close }
}

export async function trackerCommand(options: TrackerCommandOptions): Promise<void> {
  const { close } = await runTracker(options)
  onShutdown(close, options.log)
}
