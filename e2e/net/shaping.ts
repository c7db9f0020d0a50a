// Link rates with tbf (this kernel has tbf but no netem). A tbf shapes one interface's egress, so a
// link is shaped at both ends: the router's LAN side for the visitor's downlink, its internet side
// for the uplink, the origin's interface for the origin's link (shared by every visitor).

import { run } from './host-command.ts'

export interface RateLimit {
  rateMbit: number
  /** Queue a burst may build before tbf drops: the link's buffer, in ms at the link's rate. */
  queueMs: number
}

/** tbf arguments for a rate: bucket of ≥ 4 ms of traffic (and ≥ 16 KiB) so high rates stay smooth. */
export function tbfArgs({ rateMbit, queueMs }: RateLimit): string[] {
  if (!(rateMbit > 0)) throw new RangeError(`rate must be positive, got ${rateMbit} Mbit/s`)
  const bytesPerSec = (rateMbit * 1e6) / 8
  const burst = Math.max(16 * 1024, Math.ceil(bytesPerSec * 0.004))
  return ['tbf', 'rate', `${rateMbit}mbit`, 'burst', String(burst), 'latency', `${Math.max(1, Math.round(queueMs))}ms`]
}

export async function shapeEgress(ns: string, dev: string, limit: RateLimit): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'replace', 'dev', dev, 'root', ...tbfArgs(limit)])
}
