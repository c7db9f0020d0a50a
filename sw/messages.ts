// Message protocol between pages (the loader) and the service worker.
//
// page → SW (navigator.serviceWorker.controller.postMessage(msg, [port])):
//   { type: 'swarmcdn:get-stats' }       + optional MessagePort: reply { type: 'swarmcdn:stats', … } on the port
//                                          (or to the sending client when no port is given)
//   { type: 'swarmcdn:register-agent' }  + MessagePort (required): the page's peer agent; the SW keeps it per
//                                          clientId (agent-registry.ts), replies on the port
//                                          { type: 'swarmcdn:agent-registered', iceServers } with the verified
//                                          manifest's ICE servers (absent when it has none)
//   { type: 'swarmcdn:no-agent' }         this page runs no peer agent (P2P off, agent failed): the SW stops
//                                          waiting for one before going to HTTP
//   { type: 'swarmcdn:adopt', urls }     URLs this page loaded before the SW controlled it: the SW stores
//                                          (and so seeds) the manifest assets among them from the HTTP cache
//   { type: 'swarmcdn:refresh-manifest' } + optional MessagePort: check the manifest now; reply
//                                          { type: 'swarmcdn:manifest-status', status, sequence }
// SW → page:
//   { type: 'swarmcdn:killed' }          to every open client when a signed kill switch is accepted

import type { StatsSnapshot } from './asset-stats.ts'
import type { TrustStatus } from './manifest-trust.ts'
import type { SchedulerCounts } from './piece-scheduler.ts'
import type { WriteBackpressure } from './asset-fetcher.ts'
import type { TraceEntry } from './scheduler-trace.ts'

export const MSG_GET_STATS = 'swarmcdn:get-stats'
export const MSG_STATS = 'swarmcdn:stats'
export const MSG_REGISTER_AGENT = 'swarmcdn:register-agent'
export const MSG_AGENT_REGISTERED = 'swarmcdn:agent-registered'
export const MSG_KILLED = 'swarmcdn:killed'
export const MSG_REFRESH_MANIFEST = 'swarmcdn:refresh-manifest'
export const MSG_NO_AGENT = 'swarmcdn:no-agent'
export const MSG_ADOPT = 'swarmcdn:adopt'
export const MSG_MANIFEST_STATUS = 'swarmcdn:manifest-status'

export type PageToSwMessage = { type: typeof MSG_GET_STATS } | { type: typeof MSG_REGISTER_AGENT } | { type: typeof MSG_REFRESH_MANIFEST } | { type: typeof MSG_NO_AGENT } | { type: typeof MSG_ADOPT; urls: string[] }

export interface StatsReply {
  type: typeof MSG_STATS
  stats: StatsSnapshot
  manifest: { status: TrustStatus; sequence: number | null }
  /** Diagnostics: what became of the scheduler's peer requests. */
  scheduler?: SchedulerCounts
  /** Diagnostics: readers held back while the store caught up. */
  storeWrites?: WriteBackpressure
  /** Diagnostics: the latest requests, batches and HTTP runs, with their times (Date.now()). */
  trace?: TraceEntry[]
}

export interface AgentRegisteredReply {
  type: typeof MSG_AGENT_REGISTERED
}

export type SwToPageMessage = StatsReply | AgentRegisteredReply | { type: typeof MSG_KILLED }

export function parsePageMessage(data: unknown): PageToSwMessage | null {
  if (typeof data !== 'object' || data === null) return null
  const type = (data as { type?: unknown }).type
  if (type === MSG_GET_STATS || type === MSG_REGISTER_AGENT || type === MSG_REFRESH_MANIFEST || type === MSG_NO_AGENT) return { type }
  if (type === MSG_ADOPT) {
    const urls = (data as { urls?: unknown }).urls
    return Array.isArray(urls) ? { type, urls: urls.filter((url): url is string => typeof url === 'string') } : null
  }
  return null
}
