// The manifest: what the site owner signs and the service worker trusts.
// Documented in docs/manifest.md; keep the two in step.

import { base64ToBytes } from './base64.ts'
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, SHA1_LENGTH, isPowerOfTwo, pieceCount } from './piece-math.ts'

export const MANIFEST_FORMAT = 'swarmcdn-manifest/1'
export const SIGNED_MANIFEST_FORMAT = 'swarmcdn-signed-manifest/1'
/** Where the signed manifest lives, relative to the site root. */
export const MANIFEST_FILE = 'swarmcdn/manifest.json'
/** Where the .torrent files live, relative to the site root. */
export const TORRENTS_DIR = 'swarmcdn/torrents'
/** Files swarmcdn writes into the site; never assets themselves. */
export const LOADER_FILE = 'swarmcdn.js'
export const SERVICE_WORKER_FILE = 'swarmcdn-sw.js'
/** The page's peer agent, loaded by the loader from next to itself. */
export const AGENT_FILE = 'swarmcdn-agent.js'
/** Default tracker: a WebSocket path on the page's own origin (what `swarmcdn serve` hosts). */
export const SAME_ORIGIN_TRACKER_PATH = '/__swarmcdn/tracker'

export interface ManifestAsset {
  /** URL path from the origin root, percent-encoded, starting with the manifest's scope. */
  path: string
  /** File size in bytes. */
  length: number
  /** Content-Type served for the asset. */
  type: string
  pieceLength: number
  /** Concatenated 20-byte SHA-1 piece hashes, base64. */
  pieces: string
  /** BitTorrent v1 infohash (hex) of { length, name, piece length, pieces }, name = last path segment decoded. */
  infoHash: string
}

/** A STUN or TURN server for the visitors' WebRTC connections (the shape of WebRTC's RTCIceServer). */
export interface ManifestIceServer {
  /** stun:, stuns:, turn: or turns: URLs (RFC 7064 / 7065), one or several. */
  urls: string | string[]
  /** TURN only (required there): long-term credential mechanism. */
  username?: string
  credential?: string
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT
  /** URL path prefix the manifest covers; starts and ends with '/'. */
  scope: string
  /** Monotonic: the service worker refuses a manifest older than one it accepted. */
  sequence: number
  /** ISO 8601 UTC. */
  issuedAt: string
  /** ISO 8601 UTC; after this the manifest is refused (freeze protection). */
  expiresAt: string
  /** WebSocket tracker URLs; a path ('/…') means the page's own origin (ws: or wss: by page scheme). */
  trackers: string[]
  /** Base URLs of HTTP mirrors tried after the origin for webseed Range requests. */
  mirrors: string[]
  /** When true the service worker steps aside and unregisters itself. */
  killSwitch: boolean
  assets: ManifestAsset[]
  /**
   * The site swarm: 40 hex, the id every visitor and the seeder announce at the tracker, one for all
   * assets (docs/peer-protocol.md). SHA-1 of the site's public key and scope (origin-tools/src/site-swarm-id.ts),
   * so it stays the same across deploys. Absent: no P2P, HTTP only.
   */
  swarm?: string
  /**
   * Optional: ICE servers every page's agent uses for WebRTC (STUN for visitors behind NATs, TURN for the
   * few behind symmetric ones). Absent: the agent's own default (none). Public: every visitor reads them.
   */
  iceServers?: ManifestIceServer[]
}

/** What travels on the wire: the manifest's exact bytes (as a JSON string) and their Ed25519 signature. */
export interface SignedManifestEnvelope {
  format: typeof SIGNED_MANIFEST_FORMAT
  /** Base64 Ed25519 signature over the UTF-8 bytes of `manifest`. */
  signature: string
  /** The manifest JSON text, exactly as signed. */
  manifest: string
}

export type ManifestErrorCode =
  | 'manifest-envelope-invalid'
  | 'manifest-signature-invalid'
  | 'manifest-invalid'
  | 'manifest-expired'
  | 'manifest-not-yet-valid'
  | 'manifest-rollback'

export class ManifestError extends Error {
  readonly code: ManifestErrorCode
  constructor(code: ManifestErrorCode, message: string) {
    super(message)
    this.name = 'ManifestError'
    this.code = code
  }
}

function invalid(message: string): never {
  throw new ManifestError('manifest-invalid', message)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function requireKeys(record: Record<string, unknown>, keys: readonly string[], where: string, optional: readonly string[] = []): void {
  for (const key of Object.keys(record)) if (!keys.includes(key) && !optional.includes(key)) invalid(`${where}: unknown field "${key}"`)
  for (const key of keys) if (!(key in record)) invalid(`${where}: missing field "${key}"`)
}

function isIsoDate(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) && !Number.isNaN(Date.parse(value))
}

function isTrackerUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false
  if (value.startsWith('/')) return !value.startsWith('//')
  try {
    const url = new URL(value)
    return url.protocol === 'ws:' || url.protocol === 'wss:'
  } catch {
    return false
  }
}

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

/** stun:host[:port], stuns:…, turn:host[:port][?transport=udp|tcp], turns:… (RFC 7064, RFC 7065). */
export function isIceUrl(value: unknown): value is string {
  return typeof value === 'string' && /^(stuns?|turns?):[^\s/?#@]+(\?transport=(udp|tcp))?$/.test(value)
}

const ICE_SERVER_KEYS = ['urls'] as const
const ICE_SERVER_OPTIONAL_KEYS = ['username', 'credential'] as const

/** Checks a manifest's (or a command line's) ICE servers; TURN URLs need a username and a credential. */
export function validateIceServers(value: unknown, where = 'iceServers'): ManifestIceServer[] {
  if (!Array.isArray(value)) invalid(`${where} must be an array`)
  value.forEach((server, i) => {
    const at = `${where}[${i}]`
    if (!isRecord(server)) invalid(`${at} is not an object`)
    requireKeys(server, ICE_SERVER_KEYS, at, ICE_SERVER_OPTIONAL_KEYS)
    const urls = typeof server.urls === 'string' ? [server.urls] : server.urls
    if (!Array.isArray(urls) || urls.length === 0 || !urls.every(isIceUrl)) invalid(`${at}.urls must be stun:, stuns:, turn: or turns: URLs`)
    for (const key of ICE_SERVER_OPTIONAL_KEYS) if (key in server && typeof server[key] !== 'string') invalid(`${at}.${key} must be a string`)
    if (urls.some((url) => url.startsWith('turn')) && (typeof server.username !== 'string' || typeof server.credential !== 'string')) {
      invalid(`${at}: a TURN server needs a username and a credential`)
    }
  })
  return value as ManifestIceServer[]
}

const MANIFEST_KEYS = ['format', 'scope', 'sequence', 'issuedAt', 'expiresAt', 'trackers', 'mirrors', 'killSwitch', 'assets'] as const
const OPTIONAL_MANIFEST_KEYS = ['swarm', 'iceServers'] as const
const ASSET_KEYS = ['path', 'length', 'type', 'pieceLength', 'pieces', 'infoHash'] as const

/** Checks shape and internal consistency; says nothing about signature or time. */
export function validateManifest(value: unknown): Manifest {
  if (!isRecord(value)) invalid('manifest is not a JSON object')
  requireKeys(value, MANIFEST_KEYS, 'manifest', OPTIONAL_MANIFEST_KEYS)
  if (value.format !== MANIFEST_FORMAT) invalid(`unsupported manifest format ${JSON.stringify(value.format)}`)
  const { scope, sequence, issuedAt, expiresAt, trackers, mirrors, killSwitch, assets } = value
  if (typeof scope !== 'string' || !scope.startsWith('/') || !scope.endsWith('/')) invalid('scope must be a path starting and ending with "/"')
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1) invalid('sequence must be a positive integer')
  if (!isIsoDate(issuedAt)) invalid('issuedAt must be an ISO 8601 UTC date')
  if (!isIsoDate(expiresAt)) invalid('expiresAt must be an ISO 8601 UTC date')
  if (Date.parse(expiresAt) <= Date.parse(issuedAt)) invalid('expiresAt must be after issuedAt')
  if (!Array.isArray(trackers) || !trackers.every(isTrackerUrl)) invalid('trackers must be ws:, wss: or same-origin path URLs')
  if (!Array.isArray(mirrors) || !mirrors.every(isHttpUrl)) invalid('mirrors must be http: or https: URLs')
  if (typeof killSwitch !== 'boolean') invalid('killSwitch must be a boolean')
  if ('iceServers' in value) validateIceServers(value.iceServers)
  if (!Array.isArray(assets)) invalid('assets must be an array')
  if (value.swarm !== undefined && (typeof value.swarm !== 'string' || !/^[0-9a-f]{40}$/.test(value.swarm))) invalid('swarm must be 40 lowercase hex digits')
  const seen = new Set<string>()
  assets.forEach((asset, i) => {
    const where = `assets[${i}]`
    if (!isRecord(asset)) invalid(`${where} is not an object`)
    requireKeys(asset, ASSET_KEYS, where)
    const { path, length, type, pieceLength, pieces, infoHash } = asset
    if (typeof path !== 'string' || !path.startsWith(scope) || path.length === scope.length) invalid(`${where}.path must be inside scope ${scope}`)
    if (seen.has(path)) invalid(`${where}.path ${path} appears twice`)
    seen.add(path)
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1) invalid(`${where}.length must be a positive integer`)
    if (typeof type !== 'string' || type.length === 0) invalid(`${where}.type must be a content type`)
    if (typeof pieceLength !== 'number' || !isPowerOfTwo(pieceLength) || pieceLength < MIN_PIECE_LENGTH || pieceLength > MAX_PIECE_LENGTH) {
      invalid(`${where}.pieceLength must be a power of two between ${MIN_PIECE_LENGTH} and ${MAX_PIECE_LENGTH}`)
    }
    const hashes = typeof pieces === 'string' ? base64ToBytes(pieces) : null
    if (!hashes || hashes.length !== pieceCount(length, pieceLength) * SHA1_LENGTH) invalid(`${where}.pieces must be base64 of one SHA-1 per piece`)
    if (typeof infoHash !== 'string' || !/^[0-9a-f]{40}$/.test(infoHash)) invalid(`${where}.infoHash must be 40 lowercase hex digits`)
  })
  return value as unknown as Manifest
}

/** Splits the envelope; the manifest inside is not yet trusted. */
export function parseEnvelope(text: string): SignedManifestEnvelope {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new ManifestError('manifest-envelope-invalid', 'signed manifest is not valid JSON')
  }
  if (!isRecord(value) || value.format !== SIGNED_MANIFEST_FORMAT || typeof value.signature !== 'string' || typeof value.manifest !== 'string') {
    throw new ManifestError('manifest-envelope-invalid', `signed manifest must be {"format":"${SIGNED_MANIFEST_FORMAT}","signature":…,"manifest":…}`)
  }
  return { format: SIGNED_MANIFEST_FORMAT, signature: value.signature, manifest: value.manifest }
}

export function encodeEnvelope(manifestText: string, signatureBase64: string): string {
  const envelope: SignedManifestEnvelope = { format: SIGNED_MANIFEST_FORMAT, signature: signatureBase64, manifest: manifestText }
  return JSON.stringify(envelope) + '\n'
}

/** Time checks, separate so callers can pass their own clock. */
export function checkManifestTime(manifest: Manifest, nowMs: number, allowedClockSkewMs = 5 * 60_000): void {
  if (Date.parse(manifest.expiresAt) <= nowMs) throw new ManifestError('manifest-expired', `manifest expired at ${manifest.expiresAt}`)
  if (Date.parse(manifest.issuedAt) > nowMs + allowedClockSkewMs) {
    throw new ManifestError('manifest-not-yet-valid', `manifest issued in the future (${manifest.issuedAt})`)
  }
}

/** Name BitTorrent sees for an asset: its last path segment, decoded. */
export function torrentNameForPath(path: string): string {
  const segment = path.slice(path.lastIndexOf('/') + 1)
  return decodeURIComponent(segment)
}
