// `swarmcdn build`: hash the site's large assets into torrents, write and sign the manifest.

import { readFile, readdir, rm } from 'node:fs/promises'
import { join, relative, isAbsolute } from 'node:path'
import mime from 'mime-types'
import { walkSite, urlPathFor, type SiteFile } from '../site-walk.ts'
import { siteSwarmId } from '../site-swarm-id.ts'
import { hashFilePieces } from '../piece-hasher.ts'
import { encodeTorrentFile, infoHashOf } from '../torrent-file.ts'
import { loadPrivateKey, publicKeyBase64, signBytes } from '../keys.ts'
import { writeFileAtomic } from '../atomic-write.ts'
import { createByteProgress, formatBytes } from '../progress.ts'
import { createPublicKey } from 'node:crypto'
import { emitClientFiles } from '../client-bundles.ts'
import { assertKeyOutsideSite } from '../key-placement.ts'
import { CliError } from '../cli-error.ts'
import { autoPieceLength } from '../../../core/piece-math.ts'
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  SAME_ORIGIN_TRACKER_PATH,
  TORRENTS_DIR,
  ManifestError,
  checkManifestTime,
  encodeEnvelope,
  parseEnvelope,
  validateManifest,
  torrentNameForPath,
  validateIceServers,
  type Manifest,
  type ManifestAsset,
  type ManifestIceServer,
} from '../../../core/manifest-format.ts'

export interface BuildOptions {
  siteDir: string
  keyFile: string
  /** Absolute URL the site is deployed at; used for url-list and absolute tracker URLs in .torrent files. */
  baseUrl: string
  trackers: string[]
  mirrors: string[]
  minSizeBytes: number
  /** Fixed piece length, or undefined for automatic by file size. */
  pieceLength?: number
  expiresInDays: number
  killSwitch: boolean
  json: boolean
  /** Service worker settings baked into swarmcdn-sw.js (sw/config.ts names, numbers only). */
  swConfig?: Record<string, number>
  /** STUN/TURN servers for the manifest; undefined: defaultIceServers(baseUrl). */
  iceServers?: ManifestIceServer[]
  /** Injected clock, for tests. */
  now?: () => Date
}

export const BUILD_DEFAULTS = {
  baseUrl: 'http://localhost:8080/',
  trackers: [SAME_ORIGIN_TRACKER_PATH],
  // Below ~256 KiB an HTTP request is one or two round trips; joining a swarm costs a tracker
  // announce plus ICE and DTLS handshakes (hundreds of ms), so P2P only pays for larger files.
  minSizeBytes: 256 * 1024,
  expiresInDays: 30,
} as const

/**
 * STUN for a production build: most visitors sit behind NATs and reach each other only with a
 * server-reflexive candidate, so without STUN a deployed site sees almost no P2P. Two free, anycast,
 * long-lived public services from different operators (one outage leaves the other); no credentials
 * needed. They learn visitors' addresses: a site that minds runs its own (coturn, docs/deploying.md).
 */
export const PUBLIC_STUN_SERVERS: readonly ManifestIceServer[] = Object.freeze([
  { urls: 'stun:stun.l.google.com:19302' },
  { urls: 'stun:stun.cloudflare.com:3478' },
])

/** True for localhost, *.localhost, 127.0.0.0/8 and ::1: a site on this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1'
}

/**
 * The build's ICE servers when --ice-server is not given: none for a site on loopback (peers on one
 * machine need only host candidates, and an unreachable STUN server would only slow ICE gathering
 * on a closed network), the public STUN list otherwise.
 */
export function defaultIceServers(baseUrl: string): ManifestIceServer[] {
  return isLoopbackHost(new URL(baseUrl).hostname) ? [] : PUBLIC_STUN_SERVERS.map((server) => ({ ...server }))
}

export interface BuiltAsset {
  file: string
  url: string
  manifestAsset: ManifestAsset
  torrentFile: string
}

export interface BuildResult {
  manifestFile: string
  signature: string
  publicKey: string
  manifest: Manifest
  assets: BuiltAsset[]
  filesSeen: number
  hashedBytes: number
  hashSeconds: number
}

export async function buildSite(options: BuildOptions): Promise<BuildResult> {
  const now = options.now?.() ?? new Date()
  const privateKey = loadPrivateKey(options.keyFile) // fail on a bad key before any hashing
  const files = await walkSite(options.siteDir)
  await assertKeyOutsideSite(options.keyFile, options.siteDir, files)
  // HTML stays plain HTTP whatever its size: documents carry the origin's own headers (CSP, framing).
  // An empty file has no piece to share (and no service worker would accept it).
  const eligible = files.filter((file) => file.size > 0 && file.size >= options.minSizeBytes && !isHtml(file.relativePath))
  const scope = new URL(options.baseUrl).pathname
  const manifestFile = join(options.siteDir, MANIFEST_FILE)
  const sequence = Math.max((await previousSequence(manifestFile)) + 1, Math.floor(now.getTime() / 1000))

  const totalBytes = eligible.reduce((sum, file) => sum + file.size, 0)
  const progress = createByteProgress('hashing', totalBytes, !options.json)
  const startedAt = process.hrtime.bigint()
  let hashed: Array<{ file: SiteFile; pieceLength: number; length: number; pieces: Buffer }>
  try {
    hashed = await mapWithConcurrency(eligible, 2, async (file) => {
      const pieceLength = options.pieceLength ?? autoPieceLength(file.size)
      const result = await hashFilePieces(file.file, pieceLength, (bytes) => progress.add(bytes))
      return { file, pieceLength, ...result }
    })
  } finally {
    progress.stop()
  }
  const hashSeconds = Number(process.hrtime.bigint() - startedAt) / 1e9

  const absoluteTrackers = options.trackers.map((tracker) => absoluteTrackerUrl(tracker, options.baseUrl))
  const assets: BuiltAsset[] = []
  for (const { file, pieceLength, length, pieces } of hashed) {
    const path = urlPathFor(scope, file.relativePath)
    const info = { name: torrentNameForPath(path), length, pieceLength, pieces }
    const infoHash = infoHashOf(info)
    const url = new URL(path, options.baseUrl).href
    const torrentFile = join(options.siteDir, TORRENTS_DIR, `${infoHash}.torrent`)
    await writeFileAtomic(torrentFile, encodeTorrentFile(info, { trackers: absoluteTrackers, webSeedUrl: url }))
    // contentType adds the charset a text file needs (text/css; charset=utf-8), as static servers do.
    const type = mime.contentType(mime.lookup(file.relativePath) || 'application/octet-stream') || 'application/octet-stream'
    assets.push({
      file: file.file,
      url,
      torrentFile,
      manifestAsset: { path, length, type, pieceLength, pieces: pieces.toString('base64'), infoHash },
    })
  }

  const publicKey = publicKeyBase64(createPublicKey(privateKey))
  const iceServers = validateIceServers(options.iceServers ?? defaultIceServers(options.baseUrl))
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    scope,
    sequence,
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + options.expiresInDays * 86_400_000).toISOString(),
    trackers: options.trackers,
    mirrors: options.mirrors,
    killSwitch: options.killSwitch,
    // Absent rather than empty: a manifest without ICE servers stays what it was before the field existed.
    ...(iceServers.length > 0 ? { iceServers } : {}),
    assets: assets.map((asset) => asset.manifestAsset),
    swarm: siteSwarmId(publicKey, scope),
  }
  checkBeforeSigning(manifest, now.getTime())
  const manifestText = JSON.stringify(manifest)
  const signature = signBytes(privateKey, Buffer.from(manifestText, 'utf8')).toString('base64')
  await emitClientFiles(options.siteDir, publicKey, options.swConfig)
  // The manifest is written last and in one rename: readers see the old one or the new one, whole.
  await writeFileAtomic(manifestFile, encodeEnvelope(manifestText, signature))
  await pruneStaleTorrents(join(options.siteDir, TORRENTS_DIR), new Set(assets.map((a) => `${a.manifestAsset.infoHash}.torrent`)))

  return {
    manifestFile,
    signature,
    publicKey,
    manifest,
    assets,
    filesSeen: files.length,
    hashedBytes: totalBytes,
    hashSeconds,
  }
}

/** The checks every service worker makes, before anything is signed: never sign what visitors would refuse. */
function checkBeforeSigning(manifest: Manifest, nowMs: number): void {
  try {
    validateManifest(JSON.parse(JSON.stringify(manifest)))
    checkManifestTime(manifest, nowMs)
  } catch (error) {
    if (error instanceof ManifestError) throw new CliError('manifest-invalid', `refusing to sign a manifest every service worker would refuse: ${error.message}`)
    throw error
  }
}

function isHtml(relativePath: string): boolean {
  return mime.lookup(relativePath) === 'text/html'
}

/** Sequence of the manifest already in the output (unverified: it only has to grow), or 0. */
async function previousSequence(manifestFile: string): Promise<number> {
  try {
    const envelope = parseEnvelope(await readFile(manifestFile, 'utf8'))
    const sequence = (JSON.parse(envelope.manifest) as { sequence?: unknown }).sequence
    return typeof sequence === 'number' && Number.isSafeInteger(sequence) ? sequence : 0
  } catch {
    return 0
  }
}

/** .torrent files need absolute tracker URLs; a same-origin path becomes ws(s)://host/path. */
export function absoluteTrackerUrl(tracker: string, baseUrl: string): string {
  if (!tracker.startsWith('/')) return tracker
  const url = new URL(tracker, baseUrl)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  return url.href
}

async function pruneStaleTorrents(dir: string, keep: Set<string>): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[])
  await Promise.all(names.filter((name) => name.endsWith('.torrent') && !keep.has(name)).map((name) => rm(join(dir, name), { force: true })))
}

async function mapWithConcurrency<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await fn(items[index])
    }
  })
  await Promise.all(workers)
  return results
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file
}

export function buildResultJson(result: BuildResult): object {
  return {
    manifest: displayPath(result.manifestFile),
    signature: result.signature,
    publicKey: result.publicKey,
    sequence: result.manifest.sequence,
    assets: result.assets.map((asset) => ({
      path: displayPath(asset.file),
      url: asset.url,
      length: asset.manifestAsset.length,
      pieceLength: asset.manifestAsset.pieceLength,
      infoHash: asset.manifestAsset.infoHash,
      torrent: displayPath(asset.torrentFile),
    })),
  }
}

export function buildSummary(result: BuildResult): string {
  const speed = result.hashedBytes / 1e6 / Math.max(result.hashSeconds, 1e-6)
  const lines = [
    `built ${result.assets.length} P2P assets of ${result.filesSeen} files: hashed ${formatBytes(result.hashedBytes)} in ${result.hashSeconds.toFixed(2)} s (${speed.toFixed(0)} MB/s)`,
    ...result.assets.map((a) => `  ${a.manifestAsset.path}  ${formatBytes(a.manifestAsset.length)}  ${a.manifestAsset.infoHash}`),
    `ICE servers: ${result.manifest.iceServers?.map((server) => [server.urls].flat().join(' ')).join(', ') || 'none'}`,
    `manifest: ${displayPath(result.manifestFile)} (sequence ${result.manifest.sequence}, expires ${result.manifest.expiresAt}${result.manifest.killSwitch ? ', KILL SWITCH ON' : ''})`,
    `public key: ${result.publicKey}`,
  ]
  return lines.join('\n')
}
