// The site protocol spoken on the one data channel between two visitors (or a visitor and the seeder).
// Documented in docs/peer-protocol.md. Control messages are small JSON strings; piece data travels as
// binary chunks with an 8-byte header. Nothing here is trusted: the service worker verifies every piece.

/** 2: credit-based flow control (`credit`, `ping`, `pong`), spoken only to peers whose hello says v ≥ 2. */
export const WIRE_VERSION = 2
/** First version with flow control. */
export const FLOW_CONTROL_VERSION = 2
/**
 * Bytes per binary chunk sent. Small, so a credit window of a few chunks (flow-window.ts) still keeps
 * a path busy; receivers accept any size up to MAX_CHUNK_BYTES (version 1 sent 64 KiB).
 */
export const CHUNK_BYTES = 16 * 1024
/** Largest chunk accepted: well under every browser's SCTP max-message-size (256 KiB in Chromium). */
export const MAX_CHUNK_BYTES = 64 * 1024
/**
 * Credit a version-2 receiver grants without saying so, before its first `credit`: the sender may
 * have this many payload bytes sent in all (flow-window.ts: FLOW_WINDOW_DEFAULTS.initialBytes).
 */
export const INITIAL_CREDIT_BYTES = 64 * 1024
/** Header of a binary chunk: request id (u32) and byte offset in the piece (u32), big-endian. */
export const CHUNK_HEADER_BYTES = 8
/** Largest control message accepted (a hello with the bitfields of a big site). */
export const MAX_CONTROL_BYTES = 1024 * 1024

/** infoHash (40 hex) → bitfield of the pieces held, base64 (BitTorrent bit order: bit 7 of byte 0 is piece 0). */
export type HaveMap = Record<string, string>

export type ControlMessage =
  /** First message each way: who I am and everything I hold. */
  | { t: 'hello'; v: number; peerId: string; have: HaveMap }
  /** I now hold these pieces. */
  | { t: 'have'; h: string; i: number[] }
  /** Send me piece `i` of asset `h`; chunks come back tagged with `id`. */
  | { t: 'req'; id: number; h: string; i: number }
  /** I no longer want request `id`. */
  | { t: 'cancel'; id: number }
  /** I will not serve request `id` (not held, or busy): ask someone else. */
  | { t: 'reject'; id: number }
  /** v2: you may have sent me `b` bytes of chunk payload in all on this connection (cumulative, never lower). */
  | { t: 'credit'; b: number }
  /** v2: answer with a pong at once. */
  | { t: 'ping'; n: number }
  /** v2: answer to ping `n`, sent at `ts` ms by the sender's clock (the receiver only compares such times). */
  | { t: 'pong'; n: number; ts: number }

export interface Chunk {
  id: number
  offset: number
  bytes: Uint8Array
}

const HEX40 = /^[0-9a-f]{40}$/
const isId = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff
const isIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) < 1 << 24

export function encodeControl(message: ControlMessage): string {
  return JSON.stringify(message)
}

/** A control message, or null for anything malformed (the caller drops the peer). */
export function decodeControl(text: string): ControlMessage | null {
  if (text.length > MAX_CONTROL_BYTES) return null
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof data !== 'object' || data === null) return null
  const m = data as Record<string, unknown>
  switch (m.t) {
    case 'hello': {
      if (!Number.isSafeInteger(m.v) || typeof m.peerId !== 'string' || !HEX40.test(m.peerId)) return null
      if (typeof m.have !== 'object' || m.have === null || Array.isArray(m.have)) return null
      const have: HaveMap = {}
      for (const [infoHash, bits] of Object.entries(m.have as Record<string, unknown>)) {
        if (HEX40.test(infoHash) && typeof bits === 'string') have[infoHash] = bits
      }
      return { t: 'hello', v: m.v as number, peerId: m.peerId, have }
    }
    case 'have':
      return typeof m.h === 'string' && HEX40.test(m.h) && Array.isArray(m.i) && m.i.every(isIndex) ? { t: 'have', h: m.h, i: m.i as number[] } : null
    case 'req':
      return isId(m.id) && typeof m.h === 'string' && HEX40.test(m.h) && isIndex(m.i) ? { t: 'req', id: m.id, h: m.h, i: m.i } : null
    case 'cancel':
    case 'reject':
      return isId(m.id) ? { t: m.t, id: m.id } : null
    case 'credit':
      return Number.isSafeInteger(m.b) && (m.b as number) >= 0 ? { t: 'credit', b: m.b as number } : null
    case 'ping':
      return isId(m.n) ? { t: 'ping', n: m.n } : null
    case 'pong':
      return isId(m.n) && typeof m.ts === 'number' && Number.isFinite(m.ts) ? { t: 'pong', n: m.n, ts: m.ts } : null
    default:
      return null
  }
}

export function encodeChunk(id: number, offset: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER_BYTES + bytes.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, id)
  view.setUint32(4, offset)
  out.set(bytes, CHUNK_HEADER_BYTES)
  return out
}

export function decodeChunk(data: ArrayBuffer | Uint8Array): Chunk | null {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data)
  if (bytes.length <= CHUNK_HEADER_BYTES) return null
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { id: view.getUint32(0), offset: view.getUint32(4), bytes: bytes.subarray(CHUNK_HEADER_BYTES) }
}

// ---- bitfields ------------------------------------------------------------------------------------

export function encodeBitfield(indexes: Iterable<number>, count: number): string {
  const bits = new Uint8Array(Math.ceil(count / 8))
  for (const index of indexes) if (index >= 0 && index < count) bits[index >> 3] |= 0x80 >> (index & 7)
  let binary = ''
  for (const byte of bits) binary += String.fromCharCode(byte)
  return btoa(binary)
}

/** Indexes set in a base64 bitfield, those ≥ count ignored; [] for anything malformed. */
export function decodeBitfield(base64: string, count: number): number[] {
  let binary: string
  try {
    binary = atob(base64)
  } catch {
    return []
  }
  const indexes: number[] = []
  const bytes = Math.min(binary.length, Math.ceil(count / 8))
  for (let byte = 0; byte < bytes; byte++) {
    const value = binary.charCodeAt(byte)
    if (value === 0) continue
    for (let bit = 0; bit < 8; bit++) {
      const index = byte * 8 + bit
      if (index < count && value & (0x80 >> bit)) indexes.push(index)
    }
  }
  return indexes
}

// ---- ids ------------------------------------------------------------------------------------------

export function randomHex(bytes: number, random: (array: Uint8Array) => Uint8Array = (a) => crypto.getRandomValues(a)): string {
  return [...random(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** The tracker protocol carries 20-byte ids as "binary strings" (one char per byte). */
export function hexToBinaryString(hex: string): string {
  let out = ''
  for (let i = 0; i < hex.length; i += 2) out += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16))
  return out
}

export function binaryStringToHex(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) out += (text.charCodeAt(i) & 0xff).toString(16).padStart(2, '0')
  return out
}
