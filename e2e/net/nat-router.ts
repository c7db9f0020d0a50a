// A home NAT router in its own namespace: IPv4 masquerade out of `wanDev`, and every unsolicited
// packet from the internet dropped (forwarded or addressed to the router itself). Dropping matters:
// a packet the router answered or forwarded would create a conntrack entry on the port a visitor
// later uses, masquerade would then pick another port, and hole punching would fail. With the drop,
// Linux masquerade maps endpoint-independently (STUN works); `symmetric` adds --random, which maps
// each destination to its own port (a symmetric NAT: only TURN gets through).
//
// Rules go through iptables-legacy: Debian's default iptables-nft cannot use NFQUEUE on this kernel,
// and one namespace should not mix the two. Packets forwarded from the LAN out to the internet end in
// NFQUEUE `delayQueue` (the delay line, delayer.ts), so that queue needs a running delayer or nothing
// gets out. Only that direction is delayed, by a whole round trip's worth: the RTT is the same as
// delaying both ways by half, and the delay line sees requests and ACKs instead of every packet of
// every download, which halves the CPU it costs (2 cores carry eight visitors here).

import { run } from './host-command.ts'
import { setSysctl } from './namespaces.ts'

export interface NatRouterOptions {
  lanDev: string
  wanDev: string
  symmetric: boolean
  /** NFQUEUE number for forwarded packets, or null for no delay line. */
  delayQueue: number | null
}

export const IPTABLES = 'iptables-legacy'

export async function configureNatRouter(ns: string, options: NatRouterOptions): Promise<void> {
  const ipt = (...args: string[]) => run('ip', ['netns', 'exec', ns, IPTABLES, ...args])
  await setSysctl(ns, 'net.ipv4.ip_forward', '1')
  await ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', options.wanDev, '-j', 'MASQUERADE', ...(options.symmetric ? ['--random'] : []))
  const unsolicited = ['-i', options.wanDev, '-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP']
  await ipt('-A', 'INPUT', ...unsolicited)
  await ipt('-A', 'FORWARD', ...unsolicited)
  // Last rule: the verdict comes from the delayer after the delay (NF_ACCEPT ends this chain).
  if (options.delayQueue !== null) await ipt('-A', 'FORWARD', '-i', options.lanDev, '-o', options.wanDev, '-j', 'NFQUEUE', '--queue-num', String(options.delayQueue))
}
