// What the build bakes into swarmcdn-sw.js: `self.__SWARMCDN__ = { publicKey: "<base64 raw 32-byte Ed25519 key>" };`

import { base64ToBytes } from '../core/base64.ts'
import { SW_CONFIG_DEFAULTS, type SwConfig } from './config.ts'

export interface BootConfig {
  /** Raw 32-byte Ed25519 public key of the site owner. */
  publicKey: Uint8Array
  /** Site owner's overrides of SwConfig (`swarmcdn build --sw-config`); unknown or non-numeric fields are dropped. */
  config: Partial<SwConfig>
}

/** Keeps only known numeric SwConfig fields with finite, non-negative values. */
export function readConfigOverrides(value: unknown): Partial<SwConfig> {
  if (typeof value !== 'object' || value === null) return {}
  const overrides: Record<string, number> = {}
  for (const [key, fallback] of Object.entries(SW_CONFIG_DEFAULTS)) {
    const candidate = (value as Record<string, unknown>)[key]
    if (typeof fallback === 'number' && typeof candidate === 'number' && Number.isFinite(candidate) && candidate >= 0) overrides[key] = candidate
  }
  return overrides as Partial<SwConfig>
}

/** Null when the global is missing or malformed: the SW then routes nothing (fail-open). */
export function readBootConfig(value: unknown): BootConfig | null {
  if (typeof value !== 'object' || value === null) return null
  const { publicKey, config } = value as { publicKey?: unknown; config?: unknown }
  if (typeof publicKey !== 'string') return null
  const bytes = base64ToBytes(publicKey)
  return bytes && bytes.length === 32 ? { publicKey: bytes, config: readConfigOverrides(config) } : null
}
