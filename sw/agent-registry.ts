// Page peer agents that registered with the SW ({type:'swarmcdn:register-agent'} + a MessagePort),
// by clientId. The peer source (peer-source.ts) asks the requesting page's agent first, then others.

export interface AgentRegistry {
  /** Replaces any previous port of the same client. */
  register(clientId: string, port: MessagePort): void
  unregister(clientId: string): void
  get(clientId: string): MessagePort | undefined
  /** Registered client ids, oldest first. */
  clientIds(): string[]
  size(): number
  /** Drops agents of clients that are gone (pass the ids from clients.matchAll()). */
  prune(liveClientIds: Iterable<string>): void
  /** The page said it runs no agent (P2P off, agent failed): never wait for one. */
  markNoAgent(clientId: string): void
  /**
   * True when a page may still register an agent: never registered, never said no, never waited for in vain.
   * A page that has just navigated is in that state until its swarmcdn.js has started.
   */
  mayRegister(clientId: string): boolean
  /** A page is loading (a navigation's resultingClientId): its agent may register soon. */
  noteNavigation(clientId: string, nowMs?: number): void
  /** Some page navigated within the last few seconds and its agent has neither registered nor said no. */
  navigationPending(nowMs?: number): boolean
  /** Resolves with the client's port once it registers, or undefined after timeoutMs (then mayRegister is false). */
  waitFor(clientId: string, timeoutMs: number): Promise<MessagePort | undefined>
}

/** Clients remembered as "no agent coming"; bounded so a long-lived SW does not grow. */
const MAX_SETTLED_CLIENTS = 500
/** How long after its navigation a page counts as about to register an agent. */
const NAVIGATION_PENDING_MS = 5_000

export function createAgentRegistry(): AgentRegistry {
  const ports = new Map<string, MessagePort>()
  const settled = new Set<string>() // registered once, said no, or waited for in vain
  const waiters = new Map<string, Set<(port: MessagePort) => void>>()
  const navigations = new Map<string, number>()
  const settle = (clientId: string) => {
    settled.add(clientId)
    if (settled.size > MAX_SETTLED_CLIENTS) settled.delete(settled.values().next().value as string)
  }
  const registry: AgentRegistry = {
    register(clientId, port) {
      registry.unregister(clientId)
      ports.set(clientId, port)
      settle(clientId)
      for (const wake of waiters.get(clientId) ?? []) wake(port)
      waiters.delete(clientId)
    },
    unregister(clientId) {
      const port = ports.get(clientId)
      if (!port) return
      ports.delete(clientId)
      try {
        port.close()
      } catch {
        // Already closed.
      }
    },
    get: (clientId) => ports.get(clientId),
    clientIds: () => [...ports.keys()],
    size: () => ports.size,
    noteNavigation(clientId, nowMs = Date.now()) {
      navigations.set(clientId, nowMs)
      for (const [id, at] of navigations) if (at < nowMs - NAVIGATION_PENDING_MS) navigations.delete(id)
    },
    navigationPending(nowMs = Date.now()) {
      for (const [id, at] of navigations) {
        if (at >= nowMs - NAVIGATION_PENDING_MS && !ports.has(id) && !settled.has(id)) return true
      }
      return false
    },
    markNoAgent(clientId) {
      settle(clientId)
    },
    mayRegister(clientId) {
      return !ports.has(clientId) && !settled.has(clientId)
    },
    waitFor(clientId, timeoutMs) {
      const existing = ports.get(clientId)
      if (existing) return Promise.resolve(existing)
      if (settled.has(clientId)) return Promise.resolve(undefined)
      return new Promise((resolve) => {
        const wake = (port: MessagePort) => {
          clearTimeout(timer)
          resolve(port)
        }
        const timer = setTimeout(() => {
          waiters.get(clientId)?.delete(wake)
          settle(clientId)
          resolve(undefined)
        }, timeoutMs)
        let set = waiters.get(clientId)
        if (!set) waiters.set(clientId, (set = new Set()))
        set.add(wake)
      })
    },
    prune(liveClientIds) {
      const live = new Set(liveClientIds)
      for (const clientId of [...ports.keys()]) if (!live.has(clientId)) registry.unregister(clientId)
    },
  }
  return registry
}
