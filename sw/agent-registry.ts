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
}

export function createAgentRegistry(): AgentRegistry {
  const ports = new Map<string, MessagePort>()
  const registry: AgentRegistry = {
    register(clientId, port) {
      registry.unregister(clientId)
      ports.set(clientId, port)
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
    prune(liveClientIds) {
      const live = new Set(liveClientIds)
      for (const clientId of [...ports.keys()]) if (!live.has(clientId)) registry.unregister(clientId)
    },
  }
  return registry
}
