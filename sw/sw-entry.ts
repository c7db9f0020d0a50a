// Service worker entry: wiring only. The pipeline lives in handle-asset-request.ts, trust decisions in
// manifest-trust.ts. The build prefixes the bundle with
//   self.__SWARMCDN__ = { publicKey: "<base64 raw 32-byte Ed25519 key>" };
// Without a valid key the SW routes nothing (every request goes to the network as if it were absent).

import { createAgentRegistry } from './agent-registry.ts'
import { createAssetFetcher, type SourceTier } from './asset-fetcher.ts'
import { createAssetStats } from './asset-stats.ts'
import { readBootConfig } from './boot-config.ts'
import { resolveSwConfig } from './config.ts'
import { createAssetRequestHandler } from './handle-asset-request.ts'
import { createIdbKeyValueStore } from './key-value-idb.ts'
import { createManifestTrust, createEd25519Verifier, type TrustState } from './manifest-trust.ts'
import { MSG_AGENT_REGISTERED, MSG_GET_STATS, MSG_ADOPT, MSG_KILLED, MSG_MANIFEST_STATUS, MSG_NO_AGENT, MSG_REFRESH_MANIFEST, MSG_REGISTER_AGENT, MSG_STATS, parsePageMessage, type AgentRegisteredReply, type StatsReply } from './messages.ts'
import { createIdbPieceStore } from './piece-store-idb.ts'
import { createWebseedSource } from './webseed-source.ts'
import { createPortPeerSource } from './peer-source-port.ts'
import { absoluteTrackerUrls, MSG_AGENT_WANTED, type SeedMessage } from './agent-protocol.ts'
import { withStoredNotifications } from './stored-notifier.ts'
import { adoptCachedAssets } from './adopt-cached-assets.ts'
import type { Manifest } from '../core/manifest-format.ts'

declare const self: ServiceWorkerGlobalScope & { __SWARMCDN__?: unknown }

/** Minimum time between manifest checks triggered by bad pieces from the origin. */
const BAD_ORIGIN_PIECE_RECHECK_MS = 10_000

const boot = readBootConfig(self.__SWARMCDN__)
const config = resolveSwConfig(boot?.config)
const network = (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init)

const trust = createManifestTrust({
  fetch: network,
  manifestUrl: new URL(config.manifestUrl, self.registration.scope).href,
  // No key: every signature fails, so no manifest is ever trusted.
  verifySignature: boot ? createEd25519Verifier(boot.publicKey) : async () => false,
  kv: createIdbKeyValueStore(),
  now: Date.now,
  refreshIntervalMs: config.manifestRefreshIntervalMs,
})
/** Page agents (WebRTC lives in pages): the peer source asks them for pieces. */
const agents = createAgentRegistry()
// Every stored piece is announced to the agents, so pieces fetched over HTTP are seeded at once.
const store = withStoredNotifications(createIdbPieceStore({ budgetBytes: config.storeBudgetBytes }), agents)
const stats = createAssetStats()
const trackers = () => absoluteTrackerUrls(trust.current()?.trackers ?? [], self.location.origin)
const peers = createPortPeerSource({ agents, config, trackers })
const webseed = createWebseedSource({ fetch: network, origin: self.location.origin, manifest: () => trust.current(), config })
// Peers first, each piece with a deadline; what they have not delivered by then comes by HTTP.
const sources: SourceTier[] = [{ source: peers, deadlineMs: config.pieceDeadlineMs }, { source: webseed }]
const fetcher = createAssetFetcher({
  store,
  sources: () => sources,
  config,
  onPieceRejected: (asset, _index, source) => {
    if (source !== 'store') stats.pieceRejected(asset, source)
    // A bad piece from the origin itself most likely means a deploy changed the file: check for a new
    // manifest, at most every few seconds however many pieces fail.
    if (source === 'http') void trust.refreshIfOlderThan(BAD_ORIGIN_PIECE_RECHECK_MS)?.then((outcome) => actOn(outcome.state))
  },
})
const handle = createAssetRequestHandler({
  manifest: trust,
  fetcher,
  stats,
  fetch: (request) => fetch(request),
  origin: self.location.origin,
  onFallback: (request, error) => console.warn(`[swarmcdn] ${error.code}: ${request.url} from the network`, error.message),
})

/** Kill switch side effects: step aside for good and tell the pages. */
let killHandled = false
async function actOn(state: TrustState): Promise<void> {
  if (state.status !== 'killed' || killHandled) return
  killHandled = true
  try {
    await self.registration.unregister()
    for (const client of await self.clients.matchAll({ includeUncontrolled: true })) client.postMessage({ type: MSG_KILLED })
  } catch {
    // Routing already stopped (trust.current() is null); the rest is best-effort.
  }
}

// The agent registry lives in memory: after the browser restarts an idle SW it is empty, so ask
// open pages to register their agents again.
void self.clients.matchAll().then((clients) => clients.forEach((client) => client.postMessage({ type: MSG_AGENT_WANTED })))

self.addEventListener('install', (event) => {
  void self.skipWaiting()
  event.waitUntil(trust.load().then(actOn))
})

self.addEventListener('activate', (event) => {
  // Claim at once so the first visit's page is controlled as soon as the SW activates.
  event.waitUntil(self.clients.claim())
})

self.addEventListener('fetch', (event) => {
  const refresh = trust.refreshIfStale()
  if (refresh) event.waitUntil(refresh.then((outcome) => actOn(outcome.state)))
  const handled = handle(event.request, event.clientId || event.resultingClientId || undefined)
  if (!handled) return
  event.respondWith(handled.response)
  event.waitUntil(handled.done)
})

self.addEventListener('message', (event) => {
  const message = parsePageMessage(event.data)
  if (!message) return
  const port = event.ports[0]
  const client = event.source instanceof Client ? event.source : null
  if (message.type === MSG_GET_STATS) {
    const state = trust.state()
    const reply: StatsReply = {
      type: MSG_STATS,
      stats: stats.snapshot(),
      manifest: { status: state.status, sequence: state.status === 'none' ? null : state.manifest.sequence },
    }
    if (port) port.postMessage(reply)
    else client?.postMessage(reply)
  } else if (message.type === MSG_REFRESH_MANIFEST) {
    // Pages (and tests) can ask for a check now instead of waiting for the refresh interval.
    event.waitUntil(
      trust.refresh().then(async (outcome) => {
        await actOn(outcome.state)
        const state = trust.state()
        const reply = { type: MSG_MANIFEST_STATUS, status: state.status, sequence: state.status === 'none' ? null : state.manifest.sequence }
        if (port) port.postMessage(reply)
        else client?.postMessage(reply)
      }),
    )
  } else if (message.type === MSG_ADOPT) {
    event.waitUntil(
      trust
        .load()
        .then(() => adoptCachedAssets(message.urls, { manifest: () => trust.current(), store, fetch: (url, init) => fetch(url, init), origin: self.location.origin }))
        .catch(() => undefined),
    )
  } else if (message.type === MSG_NO_AGENT && client) {
    // P2P off or agent stopped: forget its port too, so its requests go straight to HTTP.
    agents.unregister(client.id)
    agents.markNoAgent(client.id)
  } else if (message.type === MSG_REGISTER_AGENT && port && client) {
    // Forget agents of pages that are gone, so requests never go to a dead port first.
    event.waitUntil(self.clients.matchAll().then((clients) => agents.prune([client.id, ...clients.map((c) => c.id)])))
    agents.register(client.id, port)
    // The reply carries the manifest's ICE servers. The manifest is almost always loaded by now (the SW
    // routed this page's own requests); answering at once matters, since the page's requests wait for
    // its agent. If it was not, a second reply follows once it is.
    const registered = (manifest: Manifest | null): AgentRegisteredReply => ({ type: MSG_AGENT_REGISTERED, ...(manifest?.iceServers ? { iceServers: manifest.iceServers } : {}) })
    const answeredWithManifest = trust.current() !== null
    port.postMessage(registered(trust.current()))
    // Then tell the new agent which swarms it can seed from the shared store (once the manifest is restored).
    event.waitUntil(
      trust.load().then(() => {
        const manifest = trust.current()
        if (!manifest) return
        if (!answeredWithManifest && manifest.iceServers) port.postMessage(registered(manifest))
        const seed: SeedMessage = { type: 'seed', assets: manifest.assets, trackers: trackers() }
        port.postMessage(seed)
      }),
    )
  }
})
