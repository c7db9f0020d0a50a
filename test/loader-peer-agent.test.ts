// The page agent in Node with real WebRTC (@roamhq/wrtc), a real tracker and a real MessageChannel to a
// stand-in service worker: it reports what its peers hold, fetches what the SW asks for, shares what the
// SW stored (read from the SW's memory, or from the shared store), and drops a peer the SW caught
// sending bad pieces.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { startTracker, pieceBytes } from './helpers/site-swarm-fixture.ts'
import { createSiteSwarm, SITE_SWARM_DEFAULTS } from '../peer/site-swarm.ts'
import { createPeerAgent } from '../loader/agent/peer-agent.ts'
import { resolveAgentConfig } from '../loader/agent/agent-config.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { parseAgentMessage, type AgentToSwMessage, type SwToAgentMessage } from '../core/agent-protocol.ts'
import { pieceCount } from '../core/piece-math.ts'

const wrtc = createRequire(import.meta.url)('@roamhq/wrtc')
const WS = WebSocket as unknown as typeof globalThis.WebSocket
const SWARM = '12'.repeat(20)
const asset = { infoHash: '34'.repeat(20), length: 700_000, pieceLength: 65_536 }
const COUNT = pieceCount(asset.length, asset.pieceLength)
const bytes = randomBytes(asset.length)
const pieceOf = (index: number) => pieceBytes(bytes, asset, index)


/** The SW's end of the agent's port: records messages, resolves waits. */
function swEnd(port: MessagePort, memory: Map<number, Uint8Array> = new Map()) {
  const received: AgentToSwMessage[] = []
  let wake: () => void = () => undefined
  port.onmessage = (event) => {
    const message = parseAgentMessage(event.data)
    if (message) received.push(message)
    if (message?.type === 'read-piece') port.postMessage({ type: 'recent-piece', requestId: message.requestId, bytes: memory.get(message.index)?.slice().buffer ?? null })
    wake()
  }
  return {
    received,
    send: (message: SwToAgentMessage) => port.postMessage(message),
    async until<T>(find: () => T | undefined, what: string): Promise<T> {
      const deadline = Date.now() + 15_000
      for (;;) {
        const found = find()
        if (found !== undefined) return found
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, 100)))
      }
    },
  }
}

test('the agent reports availability, fetches for the SW, shares the store, and drops a peer caught lying', { timeout: 60_000 }, async () => {
  const tracker = await startTracker(SWARM)
  // A seeder that holds pieces 0..COUNT-3; the SW has just stored piece COUNT-2 (in its memory) and the
  // agent's own store holds the last piece.
  const seeder = createSiteSwarm({
    swarmId: SWARM, trackers: [tracker.url], seeder: true, config: { ...SITE_SWARM_DEFAULTS, iceServers: [] },
    RTCPeerConnection: wrtc.RTCPeerConnection, WebSocket: WS, readPiece: async (_h, i) => pieceOf(i),
  })
  seeder.setAssets([asset])
  seeder.addHave(asset.infoHash, Array.from({ length: COUNT - 2 }, (_, i) => i))
  const store = createMemoryPieceStore({ budgetBytes: 1 << 30 })
  await store.put(asset.infoHash, COUNT - 1, pieceOf(COUNT - 1))
  const agent = createPeerAgent({
    pieces: store,
    listStored: async () => [COUNT - 1],
    config: resolveAgentConfig({}),
    RTCPeerConnection: wrtc.RTCPeerConnection,
    WebSocket: WS,
  })
  const channel = new MessageChannel()
  const sw = swEnd(channel.port2, new Map([[COUNT - 2, pieceOf(COUNT - 2)]]))
  agent.attach(channel.port1)
  const other = createSiteSwarm({
    swarmId: SWARM, trackers: [tracker.url], config: { ...SITE_SWARM_DEFAULTS, iceServers: [] },
    RTCPeerConnection: wrtc.RTCPeerConnection, WebSocket: WS, readPiece: async () => undefined,
  })
  other.setAssets([asset])
  try {
    sw.send({ type: 'site', swarm: SWARM, trackers: [tracker.url], iceServers: [], assets: [asset] })
    const available = () => new Set(sw.received.flatMap((m) => (m.type === 'availability' && m.available && m.infoHash === asset.infoHash ? m.indexes : [])))
    await sw.until(() => (available().size === COUNT - 2 ? true : undefined), 'availability of every seeded piece')

    sw.send({ type: 'get-pieces', requestId: 7, infoHash: asset.infoHash, indexes: [0, 1, 2] })
    const pieces = await sw.until(() => {
      const got = sw.received.filter((m) => m.type === 'piece' && m.requestId === 7)
      return got.length === 3 ? got : undefined
    }, 'three pieces')
    for (const message of pieces) if (message.type === 'piece') assert.deepEqual(new Uint8Array(message.bytes), pieceOf(message.index))

    // Another visitor fetches from the agent what only the agent's store holds (the SW's memory no
    // longer has it), and what the SW has just stored (its memory: no store has it).
    const fetchFromAgent = (index: number) =>
      other.fetchPiece(asset.infoHash, index).promise.catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 2000)) // not connected yet: try once more
        return other.fetchPiece(asset.infoHash, index).promise
      })
    const shared = await fetchFromAgent(COUNT - 1)
    assert.deepEqual(shared.bytes, pieceOf(COUNT - 1))
    assert.equal(shared.peerId.length, 40)
    sw.send({ type: 'stored', infoHash: asset.infoHash, indexes: [COUNT - 2] })
    const fresh = await fetchFromAgent(COUNT - 2)
    assert.deepEqual(fresh.bytes, pieceOf(COUNT - 2))
    const reads = () => sw.received.filter((m) => m.type === 'read-piece' && m.index === COUNT - 2).length
    assert.equal(reads(), 1, 'the agent asked the SW for the fresh piece')
    assert.deepEqual((await other.fetchPiece(asset.infoHash, COUNT - 2).promise).bytes, pieceOf(COUNT - 2))
    assert.equal(reads(), 1, 'asked again, the agent serves it from its own memory')

    // The SW says two of the seeder's pieces were bad: the agent drops it, and its pieces are gone.
    sw.send({ type: 'bad-piece', infoHash: asset.infoHash, index: 0 })
    sw.send({ type: 'bad-piece', infoHash: asset.infoHash, index: 1 })
    await sw.until(() => (agent.stats().bannedPeers === 1 ? true : undefined), 'the ban')
    await sw.until(() => sw.received.find((m) => m.type === 'availability' && !m.available && m.indexes.includes(0)), 'piece 0 no longer available')
    assert.equal(agent.stats().rejectedPieces, 2)
  } finally {
    await agent.destroy()
    other.destroy()
    seeder.destroy()
    await tracker.close()
  }
})

test('the site\'s ICE servers (from the manifest) reach every connection the agent makes; the page\'s own setting wins', { timeout: 30_000 }, async () => {
  const tracker = await startTracker(SWARM)
  const siteIce = [{ urls: 'stun:127.0.0.1:9' }]
  const seen: Array<{ page: boolean; config: RTCConfiguration }> = []
  const recording = (page: boolean) =>
    class extends wrtc.RTCPeerConnection {
      constructor(config: RTCConfiguration) {
        seen.push({ page, config })
        super(config)
      }
    }
  const agents = [false, true].map((pageSet) => {
    const agent = createPeerAgent({
      pieces: createMemoryPieceStore({ budgetBytes: 1 << 20 }),
      listStored: async () => [],
      config: resolveAgentConfig(pageSet ? { iceServers: [] } : {}),
      RTCPeerConnection: recording(pageSet) as unknown as typeof RTCPeerConnection,
      WebSocket: WS,
    })
    const channel = new MessageChannel()
    agent.attach(channel.port1)
    channel.port2.postMessage({ type: 'site', swarm: SWARM, trackers: [tracker.url], iceServers: siteIce, assets: [asset] })
    return { agent, channel }
  })
  try {
    const deadline = Date.now() + 15_000
    while (!(seen.some((s) => s.page) && seen.some((s) => !s.page)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    assert.ok(seen.length > 0, 'no connection was attempted')
    for (const { page, config } of seen) assert.deepEqual(config.iceServers, page ? [] : siteIce)
  } finally {
    for (const { agent, channel } of agents) {
      await agent.destroy()
      channel.port2.close()
    }
    await tracker.close()
  }
})
