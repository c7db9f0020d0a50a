// Shared fixtures for the service worker unit tests: real bytes, real SHA-1 piece hashes, real
// Ed25519 signatures, and a fake origin that answers Range requests with real 206 slices.

import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import type { SetTimer } from '../sw/with-timeout.ts'
import { MANIFEST_FORMAT, encodeEnvelope, type Manifest, type ManifestAsset } from '../core/manifest-format.ts'
import { pieceCount } from '../core/piece-math.ts'
import type { PeerPieces } from '../sw/peer-source-port.ts'
import type { ThroughputMeter } from '../sw/throughput-meter.ts'

export const ORIGIN = 'https://site.example'
export const PIECE = 16 * 1024

/** Feeds a throughput meter `bytesPerSec` for `ms` of busy time, in 100 ms steps of the test's clock. */
export function feedMeter(meter: ThroughputMeter, time: { now: number }, bytesPerSec: number, ms: number): void {
  const end = meter.begin()
  for (let step = 0; step < ms / 100; step++) {
    time.now += 100
    meter.add(bytesPerSec / 10)
  }
  end()
}

/** Deterministic pseudo-random bytes, so a misplaced slice cannot look right by accident. */
export function makeBytes(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
  }
  return bytes
}

export function makeAsset(bytes: Uint8Array, options: { path?: string; pieceLength?: number; type?: string } = {}): ManifestAsset {
  const pieceLength = options.pieceLength ?? PIECE
  const hashes: Buffer[] = []
  for (let i = 0; i < pieceCount(bytes.length, pieceLength); i++) {
    hashes.push(createHash('sha1').update(bytes.subarray(i * pieceLength, (i + 1) * pieceLength)).digest())
  }
  const path = options.path ?? '/media/video.mp4'
  return {
    path,
    length: bytes.length,
    type: options.type ?? 'video/mp4',
    pieceLength,
    pieces: Buffer.concat(hashes).toString('base64'),
    infoHash: createHash('sha1').update(path).update(bytes).digest('hex'),
  }
}

export function pieceOf(bytes: Uint8Array, asset: ManifestAsset, index: number): Uint8Array {
  return bytes.slice(index * asset.pieceLength, Math.min((index + 1) * asset.pieceLength, asset.length))
}

export interface TestKeys {
  privateKey: KeyObject
  publicKeyRaw: Uint8Array
  publicKeyBase64: string
}

export function makeKeys(): TestKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const jwk = publicKey.export({ format: 'jwk' })
  const publicKeyRaw = new Uint8Array(Buffer.from(jwk.x as string, 'base64url'))
  return { privateKey, publicKeyRaw, publicKeyBase64: Buffer.from(publicKeyRaw).toString('base64') }
}

export function makeManifest(overrides: Partial<Manifest> = {}, nowMs = Date.now()): Manifest {
  return {
    format: MANIFEST_FORMAT,
    scope: '/',
    sequence: 10,
    issuedAt: new Date(nowMs - 60_000).toISOString(),
    expiresAt: new Date(nowMs + 86_400_000).toISOString(),
    trackers: ['/__swarmcdn/tracker'],
    mirrors: [],
    killSwitch: false,
    assets: [],
    ...overrides,
  }
}

export function signManifest(manifest: Manifest, keys: TestKeys): string {
  const text = JSON.stringify(manifest)
  const signature = sign(null, Buffer.from(text, 'utf8'), keys.privateKey).toString('base64')
  return encodeEnvelope(text, signature)
}

export interface FetchCall {
  url: string
  range: string | null
  /** Parsed `bytes=a-b`. */
  start: number
  end: number
  /** The request's cache mode (RequestInit.cache), if set. */
  cache?: RequestCache
}

/** What the fake origin does with one call: answer normally, or a fault. */
export type Fault =
  | { kind: 'network-error' }
  | { kind: 'status'; status: number }
  | { kind: 'corrupt'; at: number } // flips the byte at absolute offset `at` if inside the answer
  | { kind: 'cut'; afterBytes: number } // body errors after this many bytes
  | { kind: 'stall'; afterBytes: number } // body stops after this many bytes and never ends
  | { kind: 'ignore-range' } // 200 with the whole file
  | { kind: 'wrong-content-range' }
  | { kind: 'no-store' } // a normal answer that says Cache-Control: no-store

export interface FakeOrigin {
  fetch: (url: string, init?: RequestInit) => Promise<Response>
  calls: FetchCall[]
  /** Decides a fault per call (1-based call number); undefined → normal 206. */
  fault?: (call: FetchCall, n: number) => Fault | undefined
}

/** Serves `files` (absolute URL → bytes) with real Range semantics, in 5,000-byte body chunks. */
export function createFakeOrigin(files: Record<string, Uint8Array>, fault?: FakeOrigin['fault']): FakeOrigin {
  const origin: FakeOrigin = {
    calls: [],
    fault,
    async fetch(url, init) {
      const range = new Headers(init?.headers).get('range')
      const file = files[url]
      const match = range ? /^bytes=(\d+)-(\d+)$/.exec(range) : null
      const start = match ? Number(match[1]) : 0
      const end = match ? Number(match[2]) : (file?.length ?? 1) - 1
      if (init?.signal?.aborted) throw new DOMException('aborted', 'AbortError')
      // A browser HTTP cache holding nothing: a lookup never reaches the origin.
      if (init?.cache === 'only-if-cached') throw new TypeError('Failed to fetch (not in the HTTP cache)')
      const call: FetchCall = { url, range, start, end, cache: init?.cache }
      origin.calls.push(call)
      const f = origin.fault?.(call, origin.calls.length)
      if (f?.kind === 'network-error') throw new TypeError('Failed to fetch')
      if (f?.kind === 'status') return new Response('nope', { status: f.status })
      if (!file) return new Response('not found', { status: 404 })
      const cacheControl: Record<string, string> = f?.kind === 'no-store' ? { 'Cache-Control': 'no-store' } : {}
      // No Range asked (a whole-file request), or the Range ignored: a 200 of the whole file.
      if (f?.kind === 'ignore-range' || (!range && !f) || (!range && f?.kind === 'no-store')) {
        return new Response(chunked(file.slice(), undefined), { status: 200, headers: { 'Content-Length': String(file.length), ...cacheControl } })
      }
      const last = Math.min(end, file.length - 1)
      const body = file.slice(start, last + 1)
      if (f?.kind === 'corrupt' && f.at >= start && f.at <= last) body[f.at - start] ^= 0xff
      const contentRange = f?.kind === 'wrong-content-range' ? `bytes ${start + 1}-${last}/${file.length}` : `bytes ${start}-${last}/${file.length}`
      return new Response(chunked(body, f?.kind === 'cut' ? f.afterBytes : undefined, f?.kind === 'stall' ? f.afterBytes : undefined, init?.signal ?? undefined), {
        status: 206,
        headers: { 'Content-Range': contentRange, 'Content-Length': String(body.length), ...cacheControl },
      })
    },
  }
  return origin
}

/** A body in 5,000-byte chunks; like a browser's, it errors when the request's signal aborts. */
function chunked(bytes: Uint8Array, cutAfter: number | undefined, stallAfter?: number, signal?: AbortSignal): ReadableStream<Uint8Array> {
  let offset = 0
  const aborted = () => new DOMException('aborted', 'AbortError')
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (signal?.aborted) return controller.error(aborted())
      if (stallAfter !== undefined && offset >= stallAfter) {
        // Never another byte, until the request is aborted.
        return new Promise<void>((resolve) => signal?.addEventListener('abort', () => (controller.error(aborted()), resolve()), { once: true }))
      }
      if (cutAfter !== undefined && offset >= cutAfter) return controller.error(new TypeError('network error mid-body'))
      if (offset >= bytes.length) return controller.close()
      const size = Math.min(5000, bytes.length - offset, cutAfter !== undefined ? cutAfter - offset : Infinity, stallAfter !== undefined ? stallAfter - offset : Infinity)
      controller.enqueue(bytes.slice(offset, offset + size))
      offset += size
    },
  })
}


/**
 * Scripted peers (the scheduler's PeerPieces; sw-peer-pieces-contract.ts holds it to the port's
 * contract): `have` pieces are available and delivered after delayMs,
 * `corrupt` ones with a flipped byte, `hang` ones never, `fail` ones answer unavailable. `crowd`
 * false means a visitor alone (P2P off, or nobody else in the swarm).
 */
export interface FakePeers extends PeerPieces {
  asked: number[]
  verdicts: Array<{ index: number; ok: boolean }>
  cancelled: number[]
  /** Makes more pieces available later, as an agent's availability report would. */
  add(indexes: number[]): void
}

export function createFakePeers(
  bytes: Uint8Array,
  options: { have: number[]; delayMs?: number; corrupt?: number[]; hang?: number[]; fail?: number[]; crowd?: boolean; settling?: boolean; infoHash?: string },
): FakePeers {
  const have = new Set(options.have)
  const listeners = new Set<(infoHash: string | null) => void>()
  // The one asset these peers hold pieces of: `infoHash`, else the first one asked about.
  let infoHashSeen = options.infoHash ?? ''
  const holdsPiece = (infoHash: string, index: number) => (infoHashSeen ||= infoHash) === infoHash && have.has(index)
  const peers: FakePeers = {
    asked: [],
    verdicts: [],
    cancelled: [],
    has: holdsPiece,
    crowd: () => options.crowd ?? true,
    settling: () => options.settling ?? false,
    holds: () => options.settling ?? false,
    share: () => null,
    request(asset: ManifestAsset, index: number) {
      peers.asked.push(index)
      const controller = new AbortController()
      const promise = (async () => {
        await delay(options.delayMs ?? 0, controller.signal)
        if (options.hang?.includes(index) && !controller.signal.aborted) await delay(60_000, controller.signal)
        if (controller.signal.aborted || options.fail?.includes(index) || !holdsPiece(asset.infoHash, index)) throw new Error('unavailable')
        const piece = pieceOf(bytes, asset, index)
        if (options.corrupt?.includes(index)) piece[0] ^= 0xff
        return piece
      })()
      promise.catch(() => undefined)
      return {
        promise,
        cancel: () => {
          peers.cancelled.push(index)
          controller.abort()
        },
      }
    },
    verdict: (_asset, index, ok) => void peers.verdicts.push({ index, ok }),
    onAvailable(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    add(indexes) {
      for (const index of indexes) have.add(index)
      for (const listener of listeners) listener(infoHashSeen)
    },
  }
  return peers
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** Timers that fire only when the test says so. */
export function manualTimers() {
  const pending = new Set<{ ms: number; callback: () => void }>()
  const starts: number[] = []
  const setTimer: SetTimer = (callback, ms) => {
    starts.push(ms)
    const timer = { ms, callback }
    pending.add(timer)
    return () => void pending.delete(timer)
  }
  return {
    setTimer,
    armed: (ms: number) => [...pending].filter((timer) => timer.ms === ms).length,
    /** Durations of the timers pending now. */
    pending: () => [...pending].map((timer) => timer.ms),
    /** Timers of this duration started so far. */
    started: (ms: number) => starts.filter((value) => value === ms).length,
    /** Fires every pending timer of this duration. */
    fire(ms: number) {
      const due = [...pending].filter((timer) => timer.ms === ms)
      for (const timer of due) {
        pending.delete(timer)
        timer.callback()
      }
      return due.length
    },
  }
}
