// The programmatic API (`import { build, verify, keygen } from 'swarmcdn'`): the CLI's commands for
// build tools. Its public types are declared here and nowhere else, so the published .d.ts stands
// alone; options are checked by the CLI's own parsers and mapped to the commands in one place each.

import { InvalidArgumentError } from 'commander'
import { CliError } from './cli-error.ts'
import { keygen as writeKey } from './commands/keygen.ts'
import { BUILD_DEFAULTS, buildResultJson, buildSite } from './commands/build.ts'
import { verifySite } from './commands/verify.ts'
import { loadPublicKey } from './keys.ts'
import { parseBaseUrl, parseByteSize, parseHttpUrl, parsePieceLength, parsePositiveNumber, parseSwConfig, parseTrackerUrl } from './option-parsers.ts'

export interface BuildOptions {
  /** Folder holding the built site (the CLI's `<site-dir>`). */
  siteDir: string
  /** Ed25519 private key file from `swarmcdn keygen` (`--key`). */
  keyFile: string
  /** Where the site is deployed (`--base-url`). Default `http://localhost:8080/`. */
  baseUrl?: string
  /** WebSocket trackers: ws(s):// URLs or same-origin paths (`--tracker`). Default `['/__swarmcdn/tracker']`. */
  trackers?: string[]
  /** HTTP mirror base URLs tried after the origin (`--mirror`). Default none. */
  mirrors?: string[]
  /** Smallest file served over P2P, bytes or a size such as `'256KiB'` (`--min-size`). Default 256 KiB. */
  minSizeBytes?: number | string
  /** Piece length, a power of two from 16 KiB to 64 MiB, bytes or a size (`--piece-length`). Default automatic. */
  pieceLength?: number | string
  /** Manifest lifetime in days (`--expires-in-days`). Default 30. */
  expiresInDays?: number
  /** Sign a manifest that makes every visitor's service worker step aside (`--kill-switch`). Default false. */
  killSwitch?: boolean
  /** Service worker settings baked into swarmcdn-sw.js (`--sw-config`; docs/service-worker.md). */
  swConfig?: Record<string, number>
  /** Show the hashing progress bar on stderr when it is a terminal. Default false (quiet, as with `--json`). */
  progress?: boolean
}

/** One P2P asset of a build, as `swarmcdn build --json` prints it. */
export interface BuildJsonAsset {
  /** The file, relative to the working directory when inside it. */
  path: string
  url: string
  length: number
  pieceLength: number
  /** BitTorrent v1 infohash, hex. */
  infoHash: string
  /** The .torrent file written for it. */
  torrent: string
}

/** Exactly what `swarmcdn build --json` prints. */
export interface BuildJson {
  /** The signed manifest file written, relative to the working directory when inside it. */
  manifest: string
  /** Ed25519 signature of the manifest, base64. */
  signature: string
  /** The public key baked into swarmcdn-sw.js, base64 of the raw 32 bytes. */
  publicKey: string
  sequence: number
  assets: BuildJsonAsset[]
}

export interface VerifyOptions {
  siteDir: string
  /** Public key: base64 as keygen printed it, or a file holding it or a PEM key (`--pub`). */
  publicKey: string
}

export interface VerifyResult {
  sequence: number
  issuedAt: string
  expiresAt: string
  killSwitch: boolean
  /** Every asset, checked piece by piece against the manifest. */
  assets: Array<{ path: string; length: number; infoHash: string }>
  verifiedBytes: number
}

export interface KeygenOptions {
  /** Where to write the private key (PKCS#8 PEM, mode 0600); an existing file is never overwritten. */
  out: string
}

/**
 * Errors that swarmcdn raises on purpose are `Error`s with a string `code`: `usage` (a bad option),
 * `key-not-found`, `key-invalid`, `key-exists`, `site-not-found`, `manifest-missing`, `verify-failed`, …
 */
export interface SwarmcdnError extends Error {
  code: string
}

/** Hashes, writes and signs the site as `swarmcdn build` does; resolves to what `--json` prints. */
export async function build(options: BuildOptions): Promise<BuildJson> {
  const result = await buildSite({
    siteDir: required(options.siteDir, 'siteDir'),
    keyFile: required(options.keyFile, 'keyFile'),
    baseUrl: option('baseUrl', options.baseUrl, parseBaseUrl) ?? BUILD_DEFAULTS.baseUrl,
    trackers: listOption('trackers', options.trackers, parseTrackerUrl) ?? [...BUILD_DEFAULTS.trackers],
    mirrors: listOption('mirrors', options.mirrors, parseHttpUrl) ?? [],
    minSizeBytes: option('minSizeBytes', options.minSizeBytes, parseByteSize) ?? BUILD_DEFAULTS.minSizeBytes,
    pieceLength: option('pieceLength', options.pieceLength, parsePieceLength),
    expiresInDays: option('expiresInDays', options.expiresInDays, parsePositiveNumber) ?? BUILD_DEFAULTS.expiresInDays,
    killSwitch: options.killSwitch === true,
    json: options.progress !== true,
    swConfig: option('swConfig', options.swConfig === undefined ? undefined : JSON.stringify(options.swConfig), parseSwConfig),
  })
  return buildResultJson(result) as BuildJson
}

/** Checks the signature, the manifest and every asset's bytes, as `swarmcdn verify` does; throws (code `verify-failed`) naming the first failure. */
export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const publicKey = loadPublicKey(required(options.publicKey, 'publicKey'))
  const { manifest, verifiedBytes } = await verifySite(required(options.siteDir, 'siteDir'), publicKey)
  return {
    sequence: manifest.sequence,
    issuedAt: manifest.issuedAt,
    expiresAt: manifest.expiresAt,
    killSwitch: manifest.killSwitch,
    assets: manifest.assets.map(({ path, length, infoHash }) => ({ path, length, infoHash })),
    verifiedBytes,
  }
}

/** Creates an Ed25519 signing key as `swarmcdn keygen` does; resolves to its public key (base64). */
export async function keygen(options: KeygenOptions): Promise<{ publicKey: string }> {
  return writeKey(required(options.out, 'out'))
}

function usage(name: string, message: string): CliError {
  return new CliError('usage', `${name}: ${message}`)
}

function required(value: string | undefined, name: string): string {
  if (typeof value !== 'string' || value === '') throw usage(name, 'required (a non-empty string)')
  return value
}

/** Runs a CLI parser over an option given as a number or string, so both take the same checks. */
function option<T>(name: string, value: number | string | undefined, parse: (text: string) => T): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' && typeof value !== 'string') throw usage(name, `expected a number or a string (got ${typeof value})`)
  try {
    return parse(String(value))
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw usage(name, error.message)
    throw error
  }
}

function listOption<T>(name: string, values: string[] | undefined, parse: (text: string) => T): T[] | undefined {
  if (values === undefined) return undefined
  if (!Array.isArray(values)) throw usage(name, 'expected an array of strings')
  return values.map((value, index) => option(`${name}[${index}]`, value, parse) as T)
}
