// Two members of a site swarm in Node (real WebRTC from @roamhq/wrtc, the real tracker): one holds
// an asset, the other fetches every piece of it over one connection; a bad-piece report past the limit
// drops the peer.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { startTracker, pieceBytes } from './helpers/site-swarm-fixture.ts'
import { createSiteSwarm, SITE_SWARM_DEFAULTS, FetchError, HELLO_TIMEOUT_MS, OFFER_ANSWER_WAIT_MS, type SiteSwarm } from '../peer/site-swarm.ts'
import { pieceCount } from '../core/piece-math.ts'

const wrtc = createRequire(import.meta.url)('@roamhq/wrtc')
const SWARM = 'ab'.repeat(20)
const asset = { infoHash: 'cd'.repeat(20), length: 1_000_000, pieceLength: 65_536 }
const bytes = randomBytes(asset.length)
const pieceOf = (index: number) => pieceBytes(bytes, asset, index)


function member(url: string, options: { seeder?: boolean; hold?: boolean; onAvailability?: (i: number[]) => void } = {}): SiteSwarm {
  const swarm = createSiteSwarm({
    swarmId: SWARM,
    trackers: [url],
    seeder: options.seeder,
    config: { ...SITE_SWARM_DEFAULTS, iceServers: [] },
    RTCPeerConnection: wrtc.RTCPeerConnection,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    readPiece: async (_h, index) => (options.hold ? pieceOf(index) : undefined),
    onAvailability: (_h, indexes, available) => available && options.onAvailability?.(indexes),
  })
  swarm.setAssets([asset])
  if (options.hold) swarm.addHave(asset.infoHash, Array.from({ length: pieceCount(asset.length, asset.pieceLength) }, (_, i) => i))
  return swarm
}

test('a visitor fetches every piece from the seeder over one connection of the site swarm', { timeout: 30_000 }, async () => {
  const tracker = await startTracker(SWARM)
  const seeder = member(tracker.url, { seeder: true, hold: true })
  let availableNow!: () => void
  const available = new Promise<void>((resolve) => (availableNow = resolve))
  const count = pieceCount(asset.length, asset.pieceLength)
  const visitor = member(tracker.url, { onAvailability: () => visitor.availableIndexes(asset.infoHash).length === count && availableNow() })
  try {
    await available
    assert.equal(visitor.stats().peers, 1)
    const results = await Promise.all(Array.from({ length: count }, (_, i) => visitor.fetchPiece(asset.infoHash, i).promise))
    results.forEach((result, i) => assert.deepEqual(Buffer.from(result.bytes), Buffer.from(pieceOf(i)), `piece ${i}`))
    assert.equal(results[0].peerId, seeder.peerId)
    assert.equal(seeder.stats().uploadedBytes, asset.length)
    // A piece nobody holds fails at once instead of waiting.
    await assert.rejects(visitor.fetchPiece('ef'.repeat(20), 0).promise, (error: unknown) => error instanceof FetchError && error.code === 'unavailable')
    // Two bad pieces reported: the seeder is dropped and refused.
    visitor.reportBadPiece(seeder.peerId)
    visitor.reportBadPiece(seeder.peerId)
    assert.equal(visitor.stats().peers, 0)
    assert.equal(visitor.available(asset.infoHash, 0), false)
  } finally {
    visitor.destroy()
    seeder.destroy()
    await tracker.close()
  }
})

test('a visitor whose trackers cannot be reached settles at once (nobody can be named), not after the settling limit', { timeout: 10_000 }, async () => {
  const closedPort = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
  let settledAt: number | undefined
  const startedAt = Date.now()
  const swarm = createSiteSwarm({
    swarmId: SWARM,
    trackers: [`ws://127.0.0.1:${closedPort}`],
    config: { ...SITE_SWARM_DEFAULTS, iceServers: [] },
    RTCPeerConnection: wrtc.RTCPeerConnection,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    readPiece: async () => undefined,
    onSettling: (settling) => void (!settling && (settledAt ??= Date.now())),
  })
  try {
    assert.equal(swarm.settling(), true)
    while (swarm.settling()) await new Promise((resolve) => setTimeout(resolve, 20))
    // The settling limit is 4 s; a refused connection is known within milliseconds.
    assert.ok(settledAt !== undefined && settledAt - startedAt < 3_000, `settled after ${settledAt! - startedAt} ms`)
  } finally {
    swarm.destroy()
  }
})

test('a connection whose peer never says hello is closed after HELLO_TIMEOUT_MS, not counted as a peer for good', { timeout: 30_000 }, async () => {
  const tracker = await startTracker(SWARM)
  const seeder = member(tracker.url, { seeder: true, hold: true })
  // The visitor offers (a seeder makes none), so it makes the data channel: this one delivers no
  // message to the visitor, and the seeder's hello never arrives.
  class DeafPeerConnection extends wrtc.RTCPeerConnection {
    createDataChannel(label: string, init?: RTCDataChannelInit) {
      const channel = super.createDataChannel(label, init)
      Object.defineProperty(channel, 'onmessage', { set: () => undefined, get: () => null })
      return channel
    }
  }
  const counts: Array<{ peers: number; atMs: number }> = []
  const startedAt = Date.now()
  const visitor = createSiteSwarm({
    swarmId: SWARM,
    trackers: [tracker.url],
    config: { ...SITE_SWARM_DEFAULTS, iceServers: [] },
    RTCPeerConnection: DeafPeerConnection as unknown as typeof RTCPeerConnection,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    readPiece: async () => undefined,
    onPeers: (peers) => counts.push({ peers, atMs: Date.now() - startedAt }),
  })
  visitor.setAssets([asset])
  try {
    const deadline = Date.now() + HELLO_TIMEOUT_MS + 6_000
    while (Date.now() < deadline && !counts.some((c, i) => c.peers === 0 && counts.slice(0, i).some((before) => before.peers === 1))) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const opened = counts.find((c) => c.peers === 1)
    assert.ok(opened, `the visitor never connected to the seeder: ${JSON.stringify(counts)}`)
    const closed = counts.find((c) => c.peers === 0 && c.atMs > opened.atMs)
    assert.ok(closed, `the silent connection was kept: ${JSON.stringify(counts)}`)
    assert.ok(closed.atMs - opened.atMs >= HELLO_TIMEOUT_MS - 300, `closed after ${closed.atMs - opened.atMs} ms, before the timeout`)
  } finally {
    visitor.destroy()
    seeder.destroy()
    await tracker.close()
  }
})

test('an offer whose answer is lost holds back no new offer past OFFER_ANSWER_WAIT_MS: the visitor connects seconds later, not after the offer TTL', { timeout: 30_000 }, async () => {
  const tracker = await startTracker(SWARM)
  const seeder = member(tracker.url, { seeder: true, hold: true })
  // The visitor's tracker socket loses the first answer relayed to it (as when it went astray).
  let answersLost = 0
  class LossySocket extends WebSocket {
    constructor(url: string) {
      super(url)
      let handler: ((event: { data: unknown }) => void) | null = null
      this.addEventListener('message', (event) => {
        if (answersLost === 0 && typeof event.data === 'string' && event.data.includes('"answer"')) return void answersLost++
        handler?.(event)
      })
      Object.defineProperty(this, 'onmessage', { set: (next) => (handler = next), get: () => handler })
    }
  }
  const startedAt = Date.now()
  let connectedAt: number | undefined
  const visitor = createSiteSwarm({
    swarmId: SWARM,
    trackers: [tracker.url],
    config: { ...SITE_SWARM_DEFAULTS, iceServers: [] },
    RTCPeerConnection: wrtc.RTCPeerConnection,
    WebSocket: LossySocket as unknown as typeof globalThis.WebSocket,
    readPiece: async () => undefined,
    onPeers: (peers) => void (peers === 1 && (connectedAt ??= Date.now() - startedAt)),
  })
  visitor.setAssets([asset])
  try {
    const deadline = Date.now() + OFFER_ANSWER_WAIT_MS + 8_000
    while (connectedAt === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(answersLost, 1, 'the seeder answered the first offer, and that answer was lost')
    assert.ok(connectedAt !== undefined, `no connection within ${OFFER_ANSWER_WAIT_MS + 8_000} ms: the lost offer still held back a new one`)
    assert.ok(connectedAt >= OFFER_ANSWER_WAIT_MS - 300, `connected after ${connectedAt} ms: the first answer was not the one lost`)
  } finally {
    visitor.destroy()
    seeder.destroy()
    await tracker.close()
  }
})
