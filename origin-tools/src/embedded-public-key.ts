// The public key `swarmcdn build` bakes into swarmcdn-sw.js, so seed and serve can check signatures
// without being told the key again.

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { SERVICE_WORKER_FILE } from '../../core/manifest-format.ts'
import { loadPublicKey } from './keys.ts'

export async function readEmbeddedPublicKey(siteDir: string): Promise<KeyObject | null> {
  const text = await readFile(join(siteDir, SERVICE_WORKER_FILE), 'utf8').catch(() => '')
  const match = /"publicKey":"([A-Za-z0-9+/=]{44})"/.exec(text.slice(0, 2000))
  return match ? loadPublicKey(match[1]) : null
}
