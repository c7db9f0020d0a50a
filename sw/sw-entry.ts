// Service worker entry: wiring only. The pipeline lives in handle-asset-request.ts, trust decisions in
// manifest-trust.ts. The build prefixes the bundle with
//   self.__SWARMCDN__ = { publicKey: "<base64 raw 32-byte Ed25519 key>" };
// Without a valid key the SW routes nothing (every request goes to the network as if it were absent).

import { createAgentRegistry } from './agent-registry.ts'
import { createAssetFetcher } from './asset-fetcher.ts'
import { createAssetStats } from './asset-stats.ts'
import { readBootConfig } from './boot-config.ts'
import { resolveSwConfig } from './config.ts'
import { createAssetRequestHandler } from './handle-asset-request.ts'
import { createIdbKeyValueStore } from './key-value-idb.ts'
import { createManifestTrust, createEd25519Verifier, type TrustState } from './manifest-trust.ts'
import { trustStateKeys } from './trust-state-keys.ts'
import { bytesToBase64 } from '../core/base64.ts'
import { MSG_AGENT_REGISTERED, MSG_GET_STATS, MSG_ADOPT, MSG_KILLED, MSG_MANIFEST_STATUS, MSG_NO_AGENT, MSG_REFRESH_MANIFEST, MSG_REGISTER_AGENT, MSG_STATS, parsePageMessage, type StatsReply } from './messages.ts'
import { createIdbPieceStore } from './piece-store-idb.ts'
import { withStoreTimeouts } from './piece-store-timeout.ts'
import { withTimeout } from './with-timeout.ts'
import { createWebseedSource } from './webseed-source.ts'
import { createOriginStream } from './origin-stream.ts'
import { createPortPeerPieces, sendSite } from './peer-source-port.ts'
import { absoluteTrackerUrls, MSG_AGENT_WANTED, type SiteMessage } from '../core/agent-protocol.ts'
import { createSchedulerClock } from './piece-scheduler.ts'
import { createSlotLimiter } from './http-slots.ts'
import { createSchedulerTrace } from './scheduler-trace.ts'
import { routeScriptsToNetwork } from './script-routes.ts'
import { verifyPiece } from './piece-verifier.ts'
import { withStoredNotifications } from './stored-notifier.ts'
import { adoptCachedAsset, adoptCachedAssets } from './adopt-cached-assets.ts'
import { createStoredResponder } from './stored-response.ts'
import { createAssetCopies } from './asset-copies.ts'
import { createQuietGate } from './quiet-gate.ts'
import { createDeferredStore } from './deferred-store.ts'
import { countSwarmMembers } from './swarm-probe.ts'

declare const self: ServiceWorkerGlobalScope & { __SWARMCDN__?: unknown }

/** Minimum time between manifest checks triggered by bad pieces from the origin. */
const BAD_ORIGIN_PIECE_RECHECK_MS = 10_000
/** A tracker that has not answered the swarm count by then counts as unknown (the page's agent will know). */
const SWARM_COUNT_TIMEOUT_MS = 2_000

const boot = readBootConfig(self.__SWARMCDN__)
const config = resolveSwConfig(boot?.config)
const network = (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init)

// Trust state belongs to this deployment: its scope, and its key (a rotated key starts a new floor).
const scopePath = new URL(self.registration.scope).pathname
const trust = createManifestTrust({
  fetch: network,
  manifestUrl: new URL(config.manifestUrl, self.registration.scope).href,
  stateKeys: trustStateKeys(scopePath, boot ? bytesToBase64(boot.publicKey) : 'no-key'),
  scope: scopePath,
  // No key: every signature fails, so no manifest is ever trusted.
  verifySignature: boot ? createEd25519Verifier(boot.publicKey) : async () => false,
  kv: createIdbKeyValueStore(),
  now: Date.now,
  refreshIntervalMs: config.manifestRefreshIntervalMs,
})
/** Page agents (WebRTC lives in pages): the peer source asks them for pieces. */
const agents = createAgentRegistry()
/** Whole copies of stored assets (the warm path's fast lane). */
const copies = createAssetCopies({ caches: self.caches, origin: self.location.origin })
// Every stored piece is announced to the agents, so pieces fetched over HTTP are seeded at once; a slow
// read is a miss and a slow write is dropped (storeReadTimeoutMs, storeWriteTimeoutMs). An asset that
// loses pieces to eviction loses its whole copy too: copies must not outlive the budget.
const pieceStore = createIdbPieceStore({
  budgetBytes: config.storeBudgetBytes,
  indexKeys: true,
  onEvicted: (infoHashes) => infoHashes.forEach((infoHash) => void copies.delete(infoHash)),
})
const store = withStoredNotifications(
  withStoreTimeouts(pieceStore, {
    config,
    onStuck: (stuck) => console.warn(stuck ? '[swarmcdn] the piece store is not answering: serving without it' : '[swarmcdn] the piece store answers again'),
  }),
  (infoHash, stored) => peers.notifyStored(infoHash, stored),
)
const stats = createAssetStats()
const trackers = () => absoluteTrackerUrls(trust.current()?.trackers ?? [], self.location.origin)
// A site without a swarm (no trackers) has no peers to wait for.
const peers = createPortPeerPieces({ agents, recentPiece: store.recent, enabled: () => !!trust.current()?.swarm && trust.current()!.trackers.length > 0 })
const webseed = createWebseedSource({ fetch: network, origin: self.location.origin, manifest: () => trust.current(), config, readHttpCache: true })
const trace = createSchedulerTrace()
const clock = { ...createSchedulerClock(), trace }
const fetcher = createAssetFetcher({
  store,
  config,
  // Peers for what connected peers hold, HTTP for the rest at once and for what peers are late with.
  scheduler: {
    peers,
    http: webseed,
    httpSlots: createSlotLimiter(config.webseedConcurrency),
    verify: verifyPiece,
    config,
    clock,
    onRejected: (asset, _index, source) => {
      if (source !== 'store') stats.pieceRejected(asset, source)
      // A bad piece from the origin itself most likely means a deploy changed the file: check for a new
      // manifest, at most every few seconds however many pieces fail.
      if (source === 'http') void trust.refreshIfOlderThan(BAD_ORIGIN_PIECE_RECHECK_MS)?.then((outcome) => actOn(outcome.state))
    },
  },
})

/** The site swarm and assets an agent needs, from the current manifest (null: no P2P). */
function siteMessage(): SiteMessage | null {
  const manifest = trust.current()
  if (!manifest?.swarm) return null
  return {
    type: 'site',
    swarm: manifest.swarm,
    trackers: trackers(),
    iceServers: manifest.iceServers ?? [],
    assets: manifest.assets.map(({ infoHash, length, pieceLength }) => ({ infoHash, length, pieceLength })),
  }
}

/** After a manifest change, every agent learns the new assets. */
let lastSiteSequence: number | null = null
function announceSite(): void {
  const manifest = trust.current()
  if (!manifest || manifest.sequence === lastSiteSequence) return
  lastSiteSequence = manifest.sequence
  // Copies of files this deploy no longer has go (the pieces age out of the store by LRU).
  void copies.prune(new Set(manifest.assets.map((asset) => asset.infoHash)))
  const site = siteMessage()
  if (!site) return
  for (const clientId of agents.clientIds()) {
    const port = agents.get(clientId)
    if (port) sendSite(port, site)
  }
}
/** Background work (checks after serving, storing what went to a page untouched) waits for the pages to be quiet. */
const quiet = createQuietGate()
const storedResponse = createStoredResponder({
  store,
  verify: verifyPiece,
  copies,
  gate: quiet,
  onCorrupt: (asset, index) => console.warn(`[swarmcdn] stored piece ${index} of ${asset.path} failed its check after it was served; its pieces and copy are deleted`),
})
/** Assets that went to a page untouched, stored afterwards from the HTTP cache. */
const storeLater = createDeferredStore({
  gate: quiet,
  adopt: (asset, signal) => adoptCachedAsset(asset, { store, fetch: (url, init) => fetch(url, init), origin: self.location.origin }, signal),
  afterStored: (asset) => storedResponse.keepCopy(asset),
  onSkipped: (asset) => console.warn(`[swarmcdn] ${asset.path} went to the page untouched but the HTTP cache did not give it back whole and verified in time: not stored; its next response streams through the worker`),
})
const handle = createAssetRequestHandler({
  manifest: trust,
  manifestWaitMs: config.manifestWaitMs,
  config,
  fetcher,
  storedResponse,
  originStream: createOriginStream({
    fetch: network,
    origin: self.location.origin,
    store,
    verify: verifyPiece,
    peers,
    busy: fetcher.busy,
    resume: (asset, first, last) => fetcher.open(asset, first, last),
    onRejected: (asset) => {
      stats.pieceRejected(asset, 'http')
      void trust.refreshIfOlderThan(BAD_ORIGIN_PIECE_RECHECK_MS)?.then((outcome) => actOn(outcome.state))
    },
    // The same limits as a webseed request: a stalled origin falls back (before headers) or ends the body.
    responseTimeoutMs: config.webseedResponseTimeoutMs || undefined,
    bodyStallMs: config.webseedBodyStallMs || undefined,
    storeLater,
    untouchedMaxBytes: config.originUntouchedMaxBytes,
  }),
  stats,
  fetch: (request) => fetch(request),
  origin: self.location.origin,
  onFallback: (request, error) => console.warn(`[swarmcdn] ${error.code}: ${request.url} from the network`, error.message),
})

/** The trackers' count of the swarm as a page starts loading (swarm-probe.ts): one count at a time. */
let counting: Promise<void> | null = null
function countSwarm(): Promise<void> | null {
  if (counting || typeof WebSocket === 'undefined') return counting
  counting = trust
    .load()
    .then(async () => {
      const swarm = trust.current()?.swarm
      if (!swarm || !peers.wantsCount()) return
      peers.noteCount(await countSwarmMembers(trackers(), swarm, { WebSocket, timeoutMs: SWARM_COUNT_TIMEOUT_MS }))
    })
    .catch(() => undefined)
    .finally(() => (counting = null))
  return counting
}

/** Kill switch side effects: step aside for good and tell the pages. */
let killHandled = false
async function actOn(state: TrustState): Promise<void> {
  announceSite()
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
  // The piece database is created here, by the SW, before any page's agent runs: pages never create
  // it (a page frozen in the back/forward cache while creating it blocked the store for good). Bounded:
  // a blocked database must not hold the install; the store then fails open (withStoreTimeouts).
  const createStore = withTimeout(store.usageBytes(), config.storeWriteTimeoutMs || undefined, () => 0)
  event.waitUntil(Promise.all([trust.load().then(actOn), createStore, routeScriptsToNetwork(event, self.location.href)]))
})

self.addEventListener('activate', (event) => {
  // Claim at once so the first visit's page is controlled as soon as the SW activates.
  event.waitUntil(self.clients.claim())
})

self.addEventListener('fetch', (event) => {
  // A page load checks the manifest (conditional, usually a 304) so a deploy takes effect on this
  // very page; its asset requests wait for the answer (bounded). Other requests refresh lazily.
  const refresh = event.request.mode === 'navigate' ? trust.revalidate(config.manifestNavigationCheckMs) : trust.refreshIfStale()
  if (refresh) event.waitUntil(refresh.then((outcome) => outcome && actOn(outcome.state)))
  if (event.request.mode === 'navigate' && event.resultingClientId) {
    agents.noteNavigation(event.resultingClientId)
    const count = countSwarm()
    if (count) event.waitUntil(count)
  }
  const handled = handle(event.request, event.clientId || event.resultingClientId || undefined)
  if (!handled) return
  trace.add(`request ${event.request.headers.get('range') ?? ''}`.trim(), new URL(event.request.url).pathname)
  quiet.touch()
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
      scheduler: clock.counts,
      storeWrites: fetcher.writeBackpressure(),
      trace: trace.entries(),
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
    peers.stateOf(port) // listen at once: availability reports start before any request
    port.postMessage({ type: MSG_AGENT_REGISTERED })
    // Tell the new agent which site swarm to join (once the manifest is restored).
    event.waitUntil(
      trust.load().then(() => {
        const site = siteMessage()
        if (site) sendSite(port, site)
      }),
    )
  }
})
