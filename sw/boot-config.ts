// What the build bakes into swarmcdn-sw.js: `self.__SWARMCDN__ = { publicKey: "<base64 raw 32-byte Ed25519 key>" };`

import { base64ToBytes } from '../core/base64.ts'

export interface BootConfig {
  /** Raw 32-byte Ed25519 public key of the site owner. */
  publicKey: Uint8Array
}

/** Null when the global is missing or malformed: the SW then routes nothing (fail-open). */
export function readBootConfig(value: unknown): BootConfig | null {
  if (typeof value !== 'object' || value === null) return null
  const { publicKey } = value as { publicKey?: unknown }
  if (typeof publicKey !== 'string') return null
  const bytes = base64ToBytes(publicKey)
  return bytes && bytes.length === 32 ? { publicKey: bytes } : null
}
