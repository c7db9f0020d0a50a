// The peer agent's message flow against a fake WebTorrent client (the real one needs WebRTC: e2e).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { createHash } from 'node:crypto'
import { bytesToBase64 } from '../core/base64.ts'
import type { ManifestAsset } from '../core/manifest-format.ts'
import type { AgentToSwMessage, SwToAgentMessage } from '../sw/agent-protocol.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { infoHashOf } from '../origin-tools/src/torrent-file.ts'
import { resolveAgentConfig } from '../loader/agent/agent-config.ts'
import { createPeerAgent, type AgentEvent, type TorrentClient } from '../loader/agent/peer-agent.ts'
import { storedIndexes, type ChunkStoreConstructor } from '../loader/agent/shared-piece-chunk-store.ts'
import { makeBytes } from './sw-fixtures.ts'

const PIECE = 16384

function makeRealAsset(name: string, pieces: number, seed: number): { asset: ManifestAsset; bytes: Uint8Array } {
  const bytes = makeBytes(pieces * PIECE - 100, seed)
  const hashes: Buffer[] = []
  for (let o = 0; o < bytes.length; o += PIECE) hashes.push(createHash('sha1').update(bytes.subarray(o, o + PIECE)).digest())
  const piecesBytes = new Uint8Array(Buffer.concat(hashes))
  const infoHash = infoHashOf({ name, length: bytes.length, pieceLength: PIECE, pieces: piecesBytes })
  return { asset: { path: `/media/${name}`, length: bytes.length, type: 'video/mp4', pieceLength: PIECE, pieces: bytesToBase64(piecesBytes), infoHash }, bytes }
}

class FakeWire extends EventEmitter {
  destroyed = false
  readonly haves: number[] = []
  constructor(
    readonly peerId: string,
    private readonly has: Set<number>,
  ) {
    super()
  }
  type = 'webrtc'
  peerPieces = { get: (index: number) => this.has.has(index) }
  have(index: number) {
    this.haves.push(index)
  }
  destroy() {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
  }
}

class FakeTorrent extends EventEmitter {
  ready = false
  destroyed = false
  done = false
  wires: FakeWire[] = []
  bitfieldBits: Set<number>
  selected = new Set<number>()
  _critical: boolean[] = []
  uploaded = 0
  downloaded = 0
  store: { get(index: number, opts: Record<string, unknown>, cb: (err: Error | null, buf?: Uint8Array) => void): void; put(index: number, buf: Uint8Array, cb: (err: Error | null) => void): void }
  pieces: unknown[]
  _peersLength = 0
  peersAdded: unknown[] = []
  bitfield = { get: (index: number) => this.bitfieldBits.has(index) }
  /** Like webtorrent: the tracker client exists once discovery starts (after add returns). */
  discovery: { tracker: EventEmitter } | null = null
  _startDiscovery() {
    this.discovery = { tracker: new EventEmitter() }
  }

  constructor(
    readonly infoHash: string,
    readonly opts: Record<string, any>,
    count: number,
    length: number,
  ) {
    super()
    const Store = opts.store as ChunkStoreConstructor
    this.store = new Store(PIECE, { ...opts.storeOpts, length })
    this.pieces = new Array(count).fill(null)
    this.bitfieldBits = new Set()
    const bits: Uint8Array = opts.bitfield
    for (let i = 0; i < count; i++) if (bits[i >> 3]! & (0x80 >> i % 8)) this.bitfieldBits.add(i)
  }
  get numPeers() {
    return this.wires.length
  }
  addPeer(peer: unknown) {
    this.peersAdded.push(peer)
    this._peersLength++
    return true
  }
  _markVerified(index: number) {
    this.bitfieldBits.add(index)
    this.emit('verified', index)
  }
  select(from: number, to: number) {
    for (let i = from; i <= to; i++) this.selected.add(i)
  }
  deselect(from: number, to: number) {
    for (let i = from; i <= to; i++) this.selected.delete(i)
  }
  critical(from: number, to: number) {
    for (let i = from; i <= to; i++) this._critical[i] = true
  }
  destroy() {
    this.destroyed = true
  }
  connect(wire: FakeWire) {
    this.wires.push(wire)
    this.emit('wire', wire)
    wire.once('close', () => (this.wires = this.wires.filter((w) => w !== wire)))
  }
  /** What webtorrent does when a piece arrives and verifies: store.put, then 'verified'. */
  async download(index: number, bytes: Uint8Array, from: FakeWire[]) {
    for (const wire of from) wire.emit('piece', index, 0, bytes)
    await new Promise<void>((resolve, reject) => this.store.put(index, bytes, (err) => (err ? reject(err) : resolve())))
    this._markVerified(index)
  }
  failVerification(index: number, from: FakeWire[]) {
    for (const wire of from) wire.emit('piece', index, 0, new Uint8Array(1))
    this.emit('warning', new Error(`Piece ${index} failed verification`))
  }
}

function setup(overrides: Record<string, unknown> = {}) {
  let nowMs = 0
  const timers: Array<{ at: number; fn: () => void }> = []
  const pieces = createMemoryPieceStore({ budgetBytes: 1 << 24 })
  const torrents: FakeTorrent[] = []
  let clientOptions: Record<string, unknown> = {}
  const events: AgentEvent[] = []
  const client: TorrentClient = {
    torrents: [] as never,
    add(torrentBytes, opts) {
      const info = parseTorrentInfo(torrentBytes)
      const torrent = new FakeTorrent(info.infoHash, opts, info.count, info.length)
      torrents.push(torrent)
      ;(client.torrents as unknown as FakeTorrent[]).push(torrent)
      setTimeout(() => {
        torrent._startDiscovery()
        torrent.ready = true
        torrent.emit('ready')
      }, 1)
      return torrent as never
    },
    destroy: (cb) => cb?.(),
    on: () => client,
  }
  const agent = createPeerAgent({
    createClient: (options) => ((clientOptions = options), client),
    pieces,
    listStored: (infoHash, count) => storedIndexes(pieces, infoHash, count),
    config: resolveAgentConfig({ peerWaitMs: 1500, maxActiveSwarms: 2, maxConnsPerSwarm: 2, ...overrides }),
    now: () => nowMs,
    setTimer: (fn, ms) => {
      const timer = { at: nowMs + ms, fn }
      timers.push(timer)
      return () => void timers.splice(timers.indexOf(timer) >>> 0, 1)
    },
    onEvent: (event) => events.push(event),
  })
  const channel = new MessageChannel()
  const received: AgentToSwMessage[] = []
  let waiters: Array<() => void> = []
  channel.port2.onmessage = (event) => {
    received.push(event.data)
    for (const wake of waiters.splice(0)) wake()
  }
  agent.attach(channel.port1)
  const send = (message: SwToAgentMessage) => channel.port2.postMessage(message)
  const until = async (predicate: () => boolean, what: string) => {
    const deadline = Date.now() + 2000
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(received.map((m) => m.type))}`)
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 5)
      })
    }
  }
  const advance = (ms: number) => {
    nowMs += ms
    for (const timer of timers.filter((t) => t.at <= nowMs)) {
      timers.splice(timers.indexOf(timer), 1)
      timer.fn()
    }
  }
  const close = async () => {
    await agent.destroy()
    channel.port2.close()
    waiters = []
  }
  return { agent, pieces, torrents, received, send, until, advance, close, events, clientOptions: () => clientOptions }
}

/** Minimal .torrent reader for the fake client: infohash from the raw info bytes, piece count, length. */
function parseTorrentInfo(torrent: Uint8Array): { infoHash: string; count: number; length: number } {
  const text = Buffer.from(torrent).toString('latin1')
  const start = text.indexOf('4:infod') + 6
  const info = Buffer.from(torrent).subarray(start, torrent.length - 1)
  const length = Number(/6:lengthi(\d+)e/.exec(text)![1])
  return { infoHash: createHash('sha1').update(info).digest('hex'), count: Math.ceil(length / PIECE), length }
}

const TRACKERS = ['ws://localhost/__swarmcdn/tracker']

test('get-pieces: joins the swarm with a bounded client, selects pieces, sends each verified piece, then end', async () => {
  const env = setup()
  const { asset, bytes } = makeRealAsset('a.mp4', 4, 1)
  try {
    env.send({ type: 'get-pieces', requestId: 7, asset, trackers: TRACKERS, indexes: [1, 2] })
    await env.until(() => env.torrents[0]?.ready === true && env.torrents[0].selected.size === 2, 'selection')
    const options = env.clientOptions()
    assert.equal(options.dht, false)
    assert.equal(options.webSeeds, false)
    assert.equal(options.maxConns, 2)
    assert.deepEqual(options.tracker, { rtcConfig: { iceServers: [] } })
    const torrent = env.torrents[0]!
    assert.equal(torrent.infoHash, asset.infoHash, 'the page-built torrent has the manifest infohash')
    assert.equal(torrent.opts.deselect, true)
    assert.deepEqual([...torrent.selected], [1, 2])
    assert.equal(torrent._critical[1], true)
    const seeder = new FakeWire('seeder', new Set([0, 1, 2, 3]))
    torrent.connect(seeder)
    await torrent.download(1, bytes.slice(PIECE, 2 * PIECE), [seeder])
    await torrent.download(2, bytes.slice(2 * PIECE, 3 * PIECE), [seeder])
    await env.until(() => env.received.some((m) => m.type === 'end'), 'end')
    const got = env.received.filter((m) => m.type === 'piece')
    assert.deepEqual(
      got.map((m) => [m.requestId, m.index]),
      [
        [7, 1],
        [7, 2],
      ],
    )
    assert.deepEqual(new Uint8Array(got[0]!.bytes), bytes.slice(PIECE, 2 * PIECE))
    assert.ok(got.every((m) => !('local' in m)), 'downloaded pieces are peer bytes')
    assert.deepEqual(env.received.at(-1), { type: 'end', requestId: 7 })
    assert.deepEqual(await env.pieces.get(asset.infoHash, 2), bytes.slice(2 * PIECE, 3 * PIECE), 'stored once, in the shared store')
    assert.ok(env.events.some((e) => e.type === 'piece' && e.index === 1))
  } finally {
    await env.close()
  }
})

test('no peer: unavailable after peerWaitMs on a fresh join, at once on a swarm joined earlier', async () => {
  const env = setup()
  const { asset } = makeRealAsset('b.mp4', 4, 2)
  try {
    env.send({ type: 'get-pieces', requestId: 1, asset, trackers: TRACKERS, indexes: [0, 3] })
    await env.until(() => env.torrents[0]?.selected.size === 2, 'selection')
    env.advance(1000)
    assert.equal(env.received.length, 0, 'still waiting for peers')
    env.advance(600)
    await env.until(() => env.received.length >= 2, 'unavailable + end')
    assert.deepEqual(env.received.slice(0, 2), [
      { type: 'unavailable', requestId: 1, indexes: [0, 3] },
      { type: 'end', requestId: 1 },
    ])
    assert.equal(env.torrents[0]!.selected.size, 0, 'deselected')
    // Same swarm, later: a peer that has piece 2 only.
    env.torrents[0]!.connect(new FakeWire('p', new Set([2])))
    env.send({ type: 'get-pieces', requestId: 2, asset, trackers: TRACKERS, indexes: [1, 2] })
    await env.until(() => env.received.some((m) => m.type === 'unavailable' && m.requestId === 2), 'second unavailable')
    assert.deepEqual(env.received.find((m) => m.type === 'unavailable' && m.requestId === 2), { type: 'unavailable', requestId: 2, indexes: [1] })
    assert.deepEqual([...env.torrents[0]!.selected], [2])
    assert.equal(env.torrents.length, 1, 'joined once')
  } finally {
    await env.close()
  }
})

test('a lone visitor does not wait for peers: the tracker\'s count of an empty swarm ends the wait at once', async () => {
  const env = setup()
  const { asset } = makeRealAsset('lone.mp4', 4, 2)
  const other = makeRealAsset('busy.mp4', 4, 2).asset
  try {
    env.send({ type: 'get-pieces', requestId: 1, asset, trackers: TRACKERS, indexes: [0, 1] })
    env.send({ type: 'get-pieces', requestId: 2, asset: other, trackers: TRACKERS, indexes: [0] })
    await env.until(() => env.torrents.length === 2 && env.torrents.every((t) => t.discovery !== null && t.selected.size > 0), 'discovery')
    // Only us in the first swarm; someone else in the second.
    env.torrents[0]!.discovery!.tracker.emit('update', { complete: 0, incomplete: 1 })
    env.torrents[1]!.discovery!.tracker.emit('update', { complete: 1, incomplete: 1 })
    await env.until(() => env.received.some((m) => m.type === 'end' && m.requestId === 1), 'unavailable for the lone swarm')
    assert.deepEqual(env.received.find((m) => m.type === 'unavailable' && m.requestId === 1), { type: 'unavailable', requestId: 1, indexes: [0, 1] })
    assert.equal(env.received.some((m) => 'requestId' in m && m.requestId === 2), false, 'gave up on a swarm that has another peer')
  } finally {
    await env.close()
  }
})

test('pieces already in the shared store are sent without asking peers, and the swarm knows it has them', async () => {
  const env = setup()
  const { asset, bytes } = makeRealAsset('c.mp4', 3, 3)
  try {
    await env.pieces.put(asset.infoHash, 0, bytes.slice(0, PIECE))
    env.send({ type: 'get-pieces', requestId: 3, asset, trackers: TRACKERS, indexes: [0] })
    await env.until(() => env.received.some((m) => m.type === 'end'), 'end')
    const piece = env.received.find((m) => m.type === 'piece')!
    assert.equal(piece.type === 'piece' && piece.index, 0)
    assert.equal(piece.type === 'piece' && piece.local, true, 'a stored piece must not be counted as peer bytes')
    assert.deepEqual(env.torrents[0]!.opts.bitfield, new Uint8Array([0b1000_0000]), 'startup bitfield from the store')
    assert.equal(env.torrents[0]!.selected.size, 0, 'never asked peers')
  } finally {
    await env.close()
  }
})

test('cancel deselects; stored marks pieces had and announces HAVE to every wire', async () => {
  const env = setup()
  const { asset } = makeRealAsset('d.mp4', 4, 4)
  try {
    env.send({ type: 'get-pieces', requestId: 4, asset, trackers: TRACKERS, indexes: [1, 2] })
    await env.until(() => env.torrents[0]?.selected.size === 2, 'selection')
    const torrent = env.torrents[0]!
    const wire = new FakeWire('w', new Set([1, 2]))
    torrent.connect(wire)
    env.send({ type: 'cancel', requestId: 4 })
    await env.until(() => torrent.selected.size === 0, 'deselect')
    env.send({ type: 'stored', infoHash: asset.infoHash, indexes: [3, 0] })
    await env.until(() => wire.haves.length === 2, 'have')
    assert.deepEqual(wire.haves, [3, 0])
    assert.equal(torrent.bitfield.get(3), true)
    assert.equal(env.received.filter((m) => m.type === 'piece').length, 0, 'a cancelled request gets nothing')
  } finally {
    await env.close()
  }
})

test('a new swarm beyond maxActiveSwarms leaves the least-recently-used; its open request is answered', async () => {
  const env = setup({ maxActiveSwarms: 2 })
  const assets = [makeRealAsset('e1.mp4', 2, 5), makeRealAsset('e2.mp4', 2, 6), makeRealAsset('e3.mp4', 2, 7)].map((a) => a.asset)
  try {
    env.send({ type: 'get-pieces', requestId: 1, asset: assets[0]!, trackers: TRACKERS, indexes: [0] })
    env.send({ type: 'get-pieces', requestId: 2, asset: assets[1]!, trackers: TRACKERS, indexes: [0] })
    await env.until(() => env.torrents.length === 2 && env.torrents.every((t) => t.ready), 'two swarms')
    env.send({ type: 'get-pieces', requestId: 3, asset: assets[2]!, trackers: TRACKERS, indexes: [0] })
    await env.until(() => env.torrents.length === 3, 'third swarm')
    assert.equal(env.torrents[0]!.destroyed, true, 'oldest left')
    assert.equal(env.torrents[1]!.destroyed, false)
    assert.deepEqual(
      env.received.filter((m) => m.type !== 'piece' && 'requestId' in m && m.requestId === 1),
      [
        { type: 'unavailable', requestId: 1, indexes: [0] },
        { type: 'end', requestId: 1 },
      ],
    )
    assert.equal(env.agent.stats().swarms, 2)
  } finally {
    await env.close()
  }
})

test('WebRTC connections per swarm are capped, in announces and in accepted peers', async () => {
  const env = setup({ maxConnsPerSwarm: 2 })
  const { asset } = makeRealAsset('f.mp4', 2, 8)
  try {
    env.send({ type: 'get-pieces', requestId: 1, asset, trackers: TRACKERS, indexes: [0] })
    await env.until(() => env.torrents[0]?.ready === true, 'ready')
    const torrent = env.torrents[0]!
    assert.deepEqual(torrent.opts.getAnnounceOpts(), { numwant: 2 })
    const offers = [0, 1, 2].map(() => ({ destroyed: false, destroy() { this.destroyed = true } }))
    for (const offer of offers) torrent.addPeer(offer)
    assert.equal(torrent.peersAdded.length, 2)
    assert.equal(offers[2]!.destroyed, true, 'third incoming peer refused')
    torrent.connect(new FakeWire('a', new Set()))
    assert.deepEqual(torrent.opts.getAnnounceOpts(), { numwant: 1 })
  } finally {
    await env.close()
  }
})

test('bad peers: every contributor of failed pieces is struck; two strikes destroy the wire and ban it', async () => {
  const env = setup({ maxBadPiecesPerPeer: 2 })
  const { asset, bytes } = makeRealAsset('g.mp4', 4, 9)
  try {
    env.send({ type: 'get-pieces', requestId: 1, asset, trackers: TRACKERS, indexes: [0, 1, 2] })
    await env.until(() => env.torrents[0]?.ready === true, 'ready')
    const torrent = env.torrents[0]!
    const liar = new FakeWire('liar', new Set([0, 1, 2]))
    const honest = new FakeWire('honest', new Set([0, 1, 2]))
    torrent.connect(liar)
    torrent.connect(honest)
    torrent.failVerification(0, [liar, honest])
    assert.equal(liar.destroyed, false)
    await torrent.download(2, bytes.slice(2 * PIECE, 3 * PIECE), [liar])
    // The SW finds piece 2 bad too (a second strike for the liar only).
    env.send({ type: 'bad-piece', infoHash: asset.infoHash, index: 2 })
    await env.until(() => liar.destroyed, 'liar dropped')
    assert.equal(honest.destroyed, false)
    const again = new FakeWire('liar', new Set([0]))
    torrent.connect(again)
    assert.equal(again.destroyed, true, 'a banned peer is refused when it comes back')
    assert.ok(env.events.some((e) => e.type === 'banned' && e.peerId === 'liar'))
  } finally {
    await env.close()
  }
})

test('an asset whose infohash does not match its info is refused: unavailable at once, no swarm', async () => {
  const env = setup()
  const { asset } = makeRealAsset('h.mp4', 2, 10)
  try {
    env.send({ type: 'get-pieces', requestId: 9, asset: { ...asset, infoHash: 'f'.repeat(40) }, trackers: TRACKERS, indexes: [0, 1] })
    await env.until(() => env.received.some((m) => m.type === 'end'), 'end')
    assert.deepEqual(env.received, [
      { type: 'unavailable', requestId: 9, indexes: [0, 1] },
      { type: 'end', requestId: 9 },
    ])
    assert.equal(env.torrents.length, 0)
    assert.ok(env.events.some((e) => e.type === 'refused'))
  } finally {
    await env.close()
  }
})

test('seed joins swarms of assets with stored pieces only, within the cap; ping gets pong', async () => {
  const env = setup({ maxActiveSwarms: 2 })
  const a = makeRealAsset('s1.mp4', 2, 11)
  const b = makeRealAsset('s2.mp4', 2, 12)
  const c = makeRealAsset('s3.mp4', 2, 13)
  const d = makeRealAsset('s4.mp4', 2, 14)
  try {
    await env.pieces.put(a.asset.infoHash, 1, a.bytes.slice(PIECE))
    await env.pieces.put(c.asset.infoHash, 0, c.bytes.slice(0, PIECE))
    await env.pieces.put(d.asset.infoHash, 0, d.bytes.slice(0, PIECE))
    env.send({ type: 'seed', assets: [a.asset, b.asset, c.asset, d.asset], trackers: TRACKERS })
    env.send({ type: 'ping', nonce: 5 })
    await env.until(() => env.received.some((m) => m.type === 'pong'), 'pong')
    await env.until(() => env.torrents.length === 2, 'two seeding swarms')
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepEqual(
      env.torrents.map((t) => t.infoHash),
      [a.asset.infoHash, c.asset.infoHash],
    )
    assert.deepEqual(env.torrents[0]!.opts.bitfield, new Uint8Array([0b0100_0000]))
  } finally {
    await env.close()
  }
})

test('the registration reply reaches the page with its ICE servers; setIceServers changes the config every connection reads', async () => {
  const env = setup()
  try {
    const replies: unknown[] = []
    const channel = new MessageChannel()
    env.agent.attach(channel.port1, (reply) => replies.push(reply))
    const iceServers = [{ urls: 'stun:203.0.113.3:3478' }]
    channel.port2.postMessage({ type: 'swarmcdn:agent-registered', iceServers })
    await env.until(() => replies.length === 1, 'the registration reply')
    assert.deepEqual(replies[0], { type: 'swarmcdn:agent-registered', iceServers })
    const rtcConfig = (env.clientOptions().tracker as { rtcConfig: RTCConfiguration }).rtcConfig
    assert.deepEqual(rtcConfig.iceServers, [])
    env.agent.setIceServers(iceServers)
    // The same object the client was given (and every simple-peer after it): later connections use STUN.
    assert.deepEqual(rtcConfig.iceServers, iceServers)
    assert.deepEqual(await env.agent.connections(), [])
    channel.port2.close()
  } finally {
    await env.close()
  }
})
