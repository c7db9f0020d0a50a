// swarmcdn's own page scripts (the loader and the peer agent) go straight to the network, without
// waiting for this worker (Chromium's Service Worker Static Routing API). Passing through the fetch
// handler, they queued behind the page's asset requests on the worker's thread: measured on the
// emulated internet (bench:net), the agent chunk took 300-520 ms from request to answer instead of
// one round trip, and every millisecond of it delays the agent, its peers, and the end of the hold
// (HTTP waits for them within the latency budget). Browsers without the API: the fetch handler
// passes them to the network as before.

import { AGENT_FILE, LOADER_FILE } from '../core/manifest-format.ts'

interface RouterRule {
  condition: { urlPattern: unknown }
  source: 'network'
}

interface InstallEventWithRoutes {
  addRoutes?: (rules: RouterRule | RouterRule[]) => Promise<void>
}

/** Adds the routes where the API exists; never fails the install. */
export function routeScriptsToNetwork(event: ExtendableEvent, workerUrl: string): Promise<void> {
  const addRoutes = (event as unknown as InstallEventWithRoutes).addRoutes
  const Pattern = (globalThis as { URLPattern?: new (input: string) => unknown }).URLPattern
  if (typeof addRoutes !== 'function' || typeof Pattern !== 'function') return Promise.resolve()
  try {
    const rules = [LOADER_FILE, AGENT_FILE].map((file): RouterRule => ({ condition: { urlPattern: new Pattern(new URL(file, workerUrl).href) }, source: 'network' }))
    return addRoutes.call(event, rules).catch(() => undefined)
  } catch {
    return Promise.resolve()
  }
}
