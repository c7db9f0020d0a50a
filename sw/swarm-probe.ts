// Counts the site swarm's members from the service worker as a page starts loading: a WebSocket
// tracker scrape (no join, no offers) to every tracker at once. The page's own agent learns the same
// from its first announce, but only after the loader and the agent chunk have loaded and its tracker
// socket has opened: 0.3 s after navigation on the emulated internet (bench:net, 40 ms round trips),
// all of which a visitor alone spent holding its page's HTTP back for peers that do not exist. The
// scrape starts with the navigation itself, and "nobody there" ends the hold for that page at once.

import { binaryStringToHex, hexToBinaryString } from '../peer/peer-wire.ts'

export interface SwarmProbeDeps {
  WebSocket: typeof WebSocket
  /** Trackers that have not answered by then count as unknown. */
  timeoutMs: number
}

/**
 * Members of the swarm that the trackers count (seeders and leechers): 0 only when every tracker
 * answered and none counted anyone; null when any did not answer in time (unknown is never "alone").
 */
export async function countSwarmMembers(trackers: readonly string[], swarmId: string, deps: SwarmProbeDeps): Promise<number | null> {
  if (trackers.length === 0) return null
  const counts = await Promise.all(trackers.map((url) => scrapeOne(url, swarmId, deps)))
  const counted = counts.reduce<number>((sum, count) => sum + (count ?? 0), 0)
  // Members on any tracker are members; "nobody" needs every tracker's word.
  return counted > 0 || counts.every((count) => count !== null) ? counted : null
}

/** One tracker's count of the swarm, or null (unreachable, refused, malformed, or late). */
function scrapeOne(url: string, swarmId: string, deps: SwarmProbeDeps): Promise<number | null> {
  const infoHash = hexToBinaryString(swarmId)
  return new Promise((resolve) => {
    let socket: WebSocket | null = null
    let done = false
    const finish = (count: number | null) => {
      if (done) return
      done = true
      clearTimeout(timer)
      try {
        socket?.close()
      } catch {
        // Closing a socket that never opened.
      }
      resolve(count)
    }
    const timer = setTimeout(() => finish(null), deps.timeoutMs)
    try {
      socket = new deps.WebSocket(url)
    } catch {
      return finish(null)
    }
    socket.onopen = () => socket!.send(JSON.stringify({ action: 'scrape', info_hash: [infoHash] }))
    socket.onerror = () => finish(null)
    socket.onclose = () => finish(null)
    socket.onmessage = (event) => finish(parseScrape(event.data, swarmId))
  })
}

/** complete + incomplete for the swarm from a scrape reply; null for anything else. */
export function parseScrape(data: unknown, swarmId: string): number | null {
  if (typeof data !== 'string') return null
  let reply: { action?: unknown; files?: unknown } | null
  try {
    reply = JSON.parse(data)
  } catch {
    return null
  }
  if (!reply || reply.action !== 'scrape' || typeof reply.files !== 'object' || reply.files === null) return null
  for (const [key, entry] of Object.entries(reply.files as Record<string, unknown>)) {
    if (binaryStringToHex(key) !== swarmId.toLowerCase() || typeof entry !== 'object' || entry === null) continue
    const { complete, incomplete } = entry as { complete?: unknown; incomplete?: unknown }
    if (typeof complete !== 'number' || typeof incomplete !== 'number') return null
    return complete + incomplete
  }
  return null
}
