// Whether this machine can run the emulated internet, and if not, why (for skips and error messages).

import { runSync } from './host-command.ts'
import { existsSync } from 'node:fs'
import { CHROMIUM_PATH } from '../helpers/browser.ts'

const TOOLS: Array<[string, string]> = [
  ['ip', 'iproute2'],
  ['tc', 'iproute2'],
  ['iptables-legacy', 'iptables'],
  ['turnserver', 'coturn'],
  ['gcc', 'gcc'],
]

/** null when everything is there; otherwise one sentence saying what is missing. */
export function emulationUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'the emulated network needs root (network namespaces, tc, iptables); run as root (CI does)'
  const missing = TOOLS.filter(([tool]) => !runSync('sh', ['-c', `command -v ${tool}`]).ok)
  if (missing.length > 0) return `missing ${missing.map(([tool, pkg]) => `${tool} (Debian: ${pkg})`).join(', ')}; .ci/run installs them`
  if (!existsSync(CHROMIUM_PATH)) return `Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium)`
  const probe = `swcdnnet-probe-${process.pid}`
  const made = runSync('ip', ['netns', 'add', probe]).ok
  runSync('ip', ['netns', 'del', probe])
  if (!made) return 'cannot create network namespaces here (ip netns add failed)'
  return null
}
