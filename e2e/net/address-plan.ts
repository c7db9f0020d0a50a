// Addresses of the emulated internet: documentation ranges only, and only inside its own namespaces.
// 203.0.113.0/24 (TEST-NET-3) is the internet; 198.51.100.0/24 (TEST-NET-2) is cut into /29 home LANs.
// Never 192.0.2.0/24: on these machines it is the host's own uplink.

export const INTERNET_PREFIX_LEN = 24
/** The wan namespace's own address on the internet bridge. */
export const WAN_IP = '203.0.113.1'
export const STUN_IP = '203.0.113.3'
export const STUN_PORT = 3478
/** A tracker that is not behind the origin's link (bench:net --tracker internet). */
export const TRACKER_IP = '203.0.113.4'
export const ORIGIN_IP = '203.0.113.10'
/** Home LANs are /29s of 198.51.100.0/24, so at most 32 visitors. */
export const MAX_VISITORS = 32
const LAN_PREFIX_LEN = 29

export interface VisitorAddresses {
  /** The NAT router's public address on the internet. */
  publicIp: string
  /** The router's LAN address: the visitor's gateway. */
  gatewayIp: string
  /** The visitor's own address behind the NAT. */
  lanIp: string
  /** The home LAN, e.g. 198.51.100.8/29. */
  lanCidr: string
  lanPrefixLen: number
}

/** Addresses of visitor `index` (0-based). */
export function visitorAddresses(index: number): VisitorAddresses {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_VISITORS) throw new RangeError(`visitor index ${index} outside 0..${MAX_VISITORS - 1}`)
  const base = index * 8
  return {
    publicIp: `203.0.113.${101 + index}`,
    gatewayIp: `198.51.100.${base + 1}`,
    lanIp: `198.51.100.${base + 2}`,
    lanCidr: `198.51.100.${base}/${LAN_PREFIX_LEN}`,
    lanPrefixLen: LAN_PREFIX_LEN,
  }
}
