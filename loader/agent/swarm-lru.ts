// The set of swarms the agent is in, capped: joining one more leaves the least-recently-used, preferring
// swarms with no request in progress. Pure; the agent destroys the evicted torrents.

export interface SwarmLru {
  /** Marks `key` used (joining it if new). Returns the keys that must be left to stay within the cap. */
  touch(key: string, isBusy?: (key: string) => boolean): string[]
  has(key: string): boolean
  delete(key: string): void
  /** Least recently used first. */
  keys(): string[]
  readonly size: number
}

export function createSwarmLru(maxActiveSwarms: number): SwarmLru {
  const cap = Math.max(1, Math.floor(maxActiveSwarms))
  const order = new Set<string>()
  return {
    touch(key, isBusy = () => false) {
      order.delete(key)
      order.add(key)
      const evicted: string[] = []
      while (order.size > cap) {
        const candidates = [...order].filter((k) => k !== key)
        const victim = candidates.find((k) => !isBusy(k)) ?? candidates[0]!
        order.delete(victim)
        evicted.push(victim)
      }
      return evicted
    },
    has: (key) => order.has(key),
    delete: (key) => void order.delete(key),
    keys: () => [...order],
    get size() {
      return order.size
    },
  }
}
