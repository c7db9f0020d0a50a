// swarmcdn.js: the one-line include. Registers the service worker, waits until it controls the page, then
// lazily loads the peer agent (swarmcdn-agent.js, next to this script) unless P2P is off. Exposes
// window.swarmcdn = { ready, stats(), on(), optOut(), optIn() }. Runs on every page: small, and it must
// never throw into the page.

import type { AgentEvent, AgentHandle, AgentStats, ConnectionInfo, StartAgentOptions } from './agent/agent-entry.ts'
import { MSG_ADOPT, MSG_GET_STATS, MSG_KILLED, MSG_NO_AGENT, type StatsReply } from '../sw/messages.ts'
import type { SourceBytes } from '../sw/asset-stats.ts'
import { AGENT_FILE, SERVICE_WORKER_FILE } from '../core/manifest-format.ts'

export type P2pOffReason = 'unsupported' | 'no-webrtc' | 'save-data' | 'opt-out' | 'site-off' | 'uncontrolled' | 'killed' | 'agent-failed'

export interface ReadyInfo {
  p2p: boolean
  reason?: P2pOffReason
}

export interface SwarmcdnStats {
  bytes: SourceBytes
  peers: number
  swarms: number
  uploadedBytes: number
  /** Bad pieces from peers caught in this page, and peers dropped for them. */
  rejectedPieces: number
  bannedPeers: number
  p2p: boolean
  /** Diagnostics: this page's piece requests to peers, and where the pieces it served waited (peer/site-swarm.ts TransferCounters). */
  transfers?: AgentStats['transfers']
  /** Diagnostics: the credit window given to each connected peer, bytes. */
  windowsBytes?: number[]
}

export type SwarmcdnEvent = 'ready' | 'piece' | 'peer' | 'killed' | 'stats'

export interface SwarmcdnApi {
  ready: Promise<ReadyInfo>
  stats(): Promise<SwarmcdnStats>
  /** Each open WebRTC connection's selected ICE candidate types (host, srflx, prflx, relay). */
  connections(): Promise<ConnectionInfo[]>
  on(event: SwarmcdnEvent, listener: (detail: unknown) => void): () => void
  optOut(): void
  optIn(): void
}

interface AgentModule {
  startAgent(options: StartAgentOptions): AgentHandle
}

declare global {
  interface Window {
    swarmcdn?: SwarmcdnApi
    SWARMCDN_CONFIG?: { p2p?: boolean; agent?: unknown }
  }
}

const OPT_OUT_KEY = 'swarmcdn:opt-out'
/** When the site's signed kill switch last removed the SW: no re-registration for a day after it. */
const KILLED_AT_KEY = 'swarmcdn:killed-at'
const KILLED_BACKOFF_MS = 24 * 60 * 60 * 1000
const STATS_TIMEOUT_MS = 1500
const AGENT_READY_TIMEOUT_MS = 10_000
/** Time allowed for clients.claim() after the SW is active, before the page counts as uncontrolled. */
const CLAIM_WAIT_MS = 3000

const safe = <A extends unknown[], R>(fn: (...args: A) => R, fallback: R) => (...args: A): R => {
  try {
    return fn(...args)
  } catch {
    return fallback
  }
}

function start(script: HTMLScriptElement | null): void {
  const listeners = new Map<SwarmcdnEvent, Set<(detail: unknown) => void>>()
  const emit = (event: SwarmcdnEvent, detail: unknown) => listeners.get(event)?.forEach((listener) => safe(listener, undefined)(detail))
  const sw = 'serviceWorker' in navigator ? navigator.serviceWorker : null
  const base = new URL('.', script?.src || location.href)
  const siteConfig = window.SWARMCDN_CONFIG ?? {}
  const storage = safe(() => window.localStorage, null)()

  let agent: AgentHandle | null = null
  let agentStarting: Promise<ReadyInfo> | null = null
  let killed = false
  let statsTimer: ReturnType<typeof setTimeout> | undefined

  const offReason = (): P2pOffReason | undefined => {
    if (killed) return 'killed'
    // WebKitGTK and some embedded browsers have service workers but no WebRTC: HTTP only, and no agent download.
    if (typeof RTCPeerConnection === 'undefined') return 'no-webrtc'
    if ((navigator as { connection?: { saveData?: boolean } }).connection?.saveData) return 'save-data'
    if (storage?.getItem(OPT_OUT_KEY) === '1') return 'opt-out'
    if (script?.dataset.p2p === 'off' || siteConfig.p2p === false) return 'site-off'
    return undefined
  }

  // 'stats' listeners get fresh stats shortly after pieces and peer changes, at most once a second.
  const scheduleStats = () => {
    if (statsTimer || !listeners.get('stats')?.size) return
    statsTimer = setTimeout(() => {
      statsTimer = undefined
      void api.stats().then((stats) => emit('stats', stats))
    }, 1000)
  }

  /** The agent chunk, asked for once. */
  let agentModule: Promise<AgentModule> | null = null
  const loadAgentModule = () => (agentModule ??= import(new URL(AGENT_FILE, base).href) as Promise<AgentModule>)

  const startAgent = (): Promise<ReadyInfo> => {
    const reason = offReason()
    if (reason) return Promise.resolve({ p2p: false, reason })
    return (agentStarting ??= (async (): Promise<ReadyInfo> => {
      try {
        const module = await loadAgentModule().catch((error) => {
          agentModule = null // a later start asks again
          throw error
        })
        if (offReason()) {
          agentStarting = null
          return { p2p: false, reason: offReason() }
        }
        agent = module.startAgent({
          config: siteConfig.agent,
          onEvent: (event: AgentEvent) => {
            if (event.type === 'piece' || event.type === 'peer') {
              emit(event.type, event)
              scheduleStats()
            }
          },
        })
        // Bounded: a SW that never answers the registration must not leave `ready` pending forever.
        const registered = await Promise.race([
          agent.ready.then(() => true),
          new Promise<false>((resolve) => setTimeout(() => resolve(false), AGENT_READY_TIMEOUT_MS)),
        ])
        if (!registered) throw new Error('agent registration timed out')
        return { p2p: true }
      } catch {
        const failed = agent
        agent = null
        agentStarting = null
        void failed?.stop().catch(() => undefined)
        return { p2p: false, reason: 'agent-failed' }
      }
    })())
  }

  const stopAgent = () => {
    const running = agent
    agent = null
    agentStarting = null
    void running?.stop().catch(() => undefined)
    // The SW must stop asking this page's (now closed) port.
    safe(() => sw?.controller?.postMessage({ type: MSG_NO_AGENT }), undefined)()
  }

  const controlled = (): Promise<boolean> => {
    if (!sw) return Promise.resolve(false)
    if (sw.controller) return Promise.resolve(true)
    return new Promise((resolve) => {
      sw.addEventListener('controllerchange', () => resolve(true), { once: true })
      // A force-reloaded page stays uncontrolled until the next navigation.
      void sw.ready.then(() => setTimeout(() => resolve(!!sw.controller), CLAIM_WAIT_MS))
    })
  }

  const swStats = (): Promise<StatsReply | null> =>
    new Promise((resolve) => {
      const controller = sw?.controller
      if (!controller) return resolve(null)
      const channel = new MessageChannel()
      const timer = setTimeout(() => {
        channel.port1.close()
        resolve(null)
      }, STATS_TIMEOUT_MS)
      channel.port1.onmessage = (event) => {
        clearTimeout(timer)
        channel.port1.close()
        resolve(event.data as StatsReply)
      }
      controller.postMessage({ type: MSG_GET_STATS }, [channel.port2])
    })

  const ready: Promise<ReadyInfo> = (async (): Promise<ReadyInfo> => {
    if (!sw) return { p2p: false, reason: 'unsupported' }
    try {
      // After a kill switch, registering on every page would install a SW that removes itself again.
      if (Date.now() - Number(storage?.getItem(KILLED_AT_KEY) ?? 0) < KILLED_BACKOFF_MS) return { p2p: false, reason: 'killed' }
      sw.addEventListener('message', (event) => {
        if ((event.data as { type?: unknown } | null)?.type !== MSG_KILLED) return
        safe(() => storage?.setItem(KILLED_AT_KEY, String(Date.now())), undefined)()
        killed = true
        stopAgent()
        emit('killed', event.data)
      })
      // A page the SW already controls will start its agent: its chunk loads while the registration
      // is checked (the agent's peers, and the end of the SW's hold on HTTP, wait for it).
      if (sw.controller && !offReason()) loadAgentModule().catch(() => undefined)
      await sw.register(new URL(SERVICE_WORKER_FILE, base).href, { scope: base.pathname })
    } catch {
      return { p2p: false, reason: 'unsupported' }
    }
    if (!(await controlled())) return { p2p: false, reason: 'uncontrolled' }
    // What this page loaded before the SW controlled it sits in the HTTP cache: let the SW seed it.
    safe(() => {
      // workerStart is 0 exactly for requests no service worker saw: later pages post nothing.
      const entries = performance.getEntriesByType('resource') as PerformanceResourceTiming[]
      const urls = entries.filter((entry) => entry.workerStart === 0 && entry.name.startsWith(location.origin)).map((entry) => entry.name)
      if (urls.length > 0) sw.controller?.postMessage({ type: MSG_ADOPT, urls })
    }, undefined)()
    const info = await startAgent()
    // No agent on this page: tell the SW, so its requests stop waiting for one.
    if (!info.p2p) safe(() => sw.controller?.postMessage({ type: MSG_NO_AGENT }), undefined)()
    return info
  })().catch((): ReadyInfo => ({ p2p: false, reason: 'agent-failed' }))
  void ready.then((info) => emit('ready', info))
  // Leaving the page: close its connections and tell the SW at once, so neither the SW nor the peers
  // keep asking an agent that is gone. Back from the back/forward cache: start again.
  window.addEventListener('pagehide', () => agent && stopAgent())
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && sw?.controller) void ready.then((info) => void (info.p2p && startAgent()))
  })

  const api: SwarmcdnApi = {
    ready,
    async stats() {
      const reply = await swStats().catch(() => null)
      const local: AgentStats = safe(() => agent?.stats(), undefined)() ?? { peers: 0, swarms: 0, uploadedBytes: 0, downloadedBytes: 0, rejectedPieces: 0, bannedPeers: 0 }
      return {
        bytes: reply?.stats?.totals?.bytes ?? { store: 0, peers: 0, http: 0 },
        peers: local.peers,
        swarms: local.swarms,
        uploadedBytes: local.uploadedBytes,
        rejectedPieces: local.rejectedPieces,
        bannedPeers: local.bannedPeers,
        p2p: agent !== null,
        ...(local.transfers ? { transfers: local.transfers, windowsBytes: local.windowsBytes } : {}),
      }
    },
    connections: () => agent?.connections().catch(() => []) ?? Promise.resolve([]),
    on(event, listener) {
      if (event === 'ready') {
        void ready.then(safe(listener, undefined))
        return () => undefined
      }
      let set = listeners.get(event)
      if (!set) listeners.set(event, (set = new Set()))
      set.add(listener)
      return () => void set.delete(listener)
    },
    optOut: safe(() => {
      storage?.setItem(OPT_OUT_KEY, '1')
      stopAgent()
    }, undefined),
    optIn: safe(() => {
      storage?.removeItem(OPT_OUT_KEY)
      if (sw?.controller) void startAgent()
    }, undefined),
  }
  window.swarmcdn = api
}

// currentScript is only set while this script runs for the first time: read it now.
safe(start, undefined)(document.currentScript as HTMLScriptElement | null)
