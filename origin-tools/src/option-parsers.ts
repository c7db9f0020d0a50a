// Parsers for CLI flag values: they reject nonsense with a message that says what is expected.

import { InvalidArgumentError } from 'commander'
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, isPowerOfTwo } from '../../core/piece-math.ts'
import { SW_CONFIG_DEFAULTS } from '../../sw/config.ts'
import { isIceUrl, type ManifestIceServer } from '../../core/manifest-format.ts'

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
}

/** Bytes, as a plain integer or with a unit: 262144, 256KiB, 1MB, 4m. */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = match ? SIZE_UNITS[match[2].toLowerCase()] : undefined
  if (!match || unit === undefined) throw new InvalidArgumentError('expected a size in bytes, such as 262144, 256KiB or 1MB')
  const bytes = Number(match[1]) * unit
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError('expected a whole number of bytes')
  return bytes
}

export function parsePieceLength(text: string): number {
  const bytes = parseByteSize(text)
  if (!isPowerOfTwo(bytes) || bytes < MIN_PIECE_LENGTH || bytes > MAX_PIECE_LENGTH) {
    throw new InvalidArgumentError(`expected a power of two from 16KiB to 64MiB, such as 262144 or 256KiB (got ${text})`)
  }
  return bytes
}

export function parsePositiveNumber(text: string): number {
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`expected a positive number (got ${text})`)
  return value
}

export function parsePositiveInteger(text: string): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`expected a whole number of at least 1 (got ${text})`)
  return value
}

export function parsePort(text: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new InvalidArgumentError(`expected a port from 0 to 65535 (got ${text})`)
  return value
}

/** Base URL of the deployed site; normalised to end with '/'. */
export function parseBaseUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InvalidArgumentError(`expected an absolute http(s) URL such as https://example.com/ (got ${text})`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`expected an http: or https: URL (got ${text})`)
  if (url.search || url.hash) throw new InvalidArgumentError('the base URL must not have a query or fragment')
  if (!url.pathname.endsWith('/')) url.pathname += '/'
  return url.href
}

/** A WebSocket tracker: ws://, wss://, or a path on the site's own origin such as /__swarmcdn/tracker. */
export function parseTrackerUrl(text: string): string {
  if (text.startsWith('/') && !text.startsWith('//')) return text
  try {
    const url = new URL(text)
    if (url.protocol === 'ws:' || url.protocol === 'wss:') return url.href
  } catch {
    // fall through to the message below
  }
  throw new InvalidArgumentError(`expected a ws:// or wss:// tracker URL, or a same-origin path like /__swarmcdn/tracker (got ${text})`)
}

export function parseHttpUrl(text: string): string {
  try {
    const url = new URL(text)
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href.endsWith('/') ? url.href : url.href + '/'
  } catch {
    // fall through
  }
  throw new InvalidArgumentError(`expected an http(s) URL (got ${text})`)
}

/** For repeatable flags: commander calls this with each value and the list so far. */
export function collect<T>(parse: (text: string) => T) {
  return (text: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(text)]
}

/** Service worker settings as JSON, e.g. '{"storeBudgetBytes":268435456,"peerBudgetMs":1500}'. */
export function parseSwConfig(text: string): Record<string, number> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new InvalidArgumentError('expected a JSON object such as {"storeBudgetBytes":268435456}')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError('expected a JSON object')
  const known = Object.keys(SW_CONFIG_DEFAULTS).filter((key) => typeof SW_CONFIG_DEFAULTS[key as keyof typeof SW_CONFIG_DEFAULTS] === 'number')
  for (const [key, field] of Object.entries(value)) {
    if (!known.includes(key)) throw new InvalidArgumentError(`unknown setting "${key}"; known: ${known.join(', ')}`)
    if (typeof field !== 'number' || !Number.isFinite(field) || field < 0) throw new InvalidArgumentError(`${key} must be a non-negative number`)
  }
  return value as Record<string, number>
}

/**
 * One --ice-server value: `stun:HOST[:PORT]`, `turn:USER:CREDENTIAL@HOST[:PORT][?transport=udp|tcp]`
 * (also `stuns:`, `turns:`), or `none` (returned as null: no ICE servers at all). The credential is what
 * follows the last ':' before the last '@', so a TURN REST username such as `1767225600:site` needs no
 * escaping; percent-encode a ':' or '@' inside the credential (%3A, %40).
 */
export function parseIceServer(text: string): ManifestIceServer | null {
  if (text === 'none') return null
  const turn = /^(turns?):(.+)@([^@]+)$/.exec(text)
  if (turn) {
    const [, scheme, userinfo, hostPart] = turn
    const split = userinfo.lastIndexOf(':')
    const urls = `${scheme}:${hostPart}`
    if (split > 0 && split < userinfo.length - 1 && isIceUrl(urls)) {
      try {
        return { urls, username: decodeURIComponent(userinfo.slice(0, split)), credential: decodeURIComponent(userinfo.slice(split + 1)) }
      } catch {
        // bad percent-encoding: fall through to the message below
      }
    }
  } else if (/^stuns?:/.test(text) && isIceUrl(text)) {
    return { urls: text }
  } else if (/^turns?:/.test(text) && isIceUrl(text)) {
    throw new InvalidArgumentError(`a TURN server needs a username and a credential: turn:USER:CREDENTIAL@HOST:PORT (got ${text})`)
  }
  throw new InvalidArgumentError(`expected stun:HOST[:PORT], turn:USER:CREDENTIAL@HOST[:PORT][?transport=udp|tcp], or none (got ${text})`)
}

/** The list of repeated --ice-server values: undefined when none was given, [] for `none`. */
export function iceServersFromFlags(values: Array<ManifestIceServer | null> | undefined): ManifestIceServer[] | undefined {
  if (!values) return undefined
  if (values.includes(null) && values.length > 1) throw new InvalidArgumentError('--ice-server none cannot be combined with servers')
  return values.filter((value): value is ManifestIceServer => value !== null)
}
