// The SW's view of the site swarm (PeerPieces) over real MessageChannels, with fake agents on the other end.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ManifestAsset } from '../core/manifest-format.ts'
import { createAgentRegistry, type AgentRegistry } from '../sw/agent-registry.ts'
import { absoluteTrackerUrls, parseAgentMessage, type SwToAgentMessage } from '../core/agent-protocol.ts'
import { createPortPeerPieces } from '../sw/peer-source-port.ts'
import { withStoredNotifications } from '../sw/stored-notifier.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { PIECE, createFakePeers, makeAsset, makeBytes, pieceOf } from './sw-fixtures.ts'
import { peerPiecesContract } from './sw-peer-pieces-contract.ts'

const bytes = makeBytes(6 * PIECE + 100, 3)
const asset = makeAsset(bytes, { path: '/media/clip.mp4' })

/** The page end of an agent port: records what the SW sent, answers with a script. */
class FakeAgent {
  readonly received: SwToAgentMessage[] = []
  readonly swPort: MessagePort
  private readonly pagePort: MessagePort
  private waiters: Array<() => void> = []
  onMessage: (message: SwToAgentMessage, agent: FakeAgent) => void = () => undefined

  constructor() {
    const channel = new MessageChannel()
    this.swPort = channel.port1
    this.pagePort = channel.port2
    // Node keeps a process alive while a MessagePort is open; a port a test forgot must not hang the run.
    ;(this.swPort as unknown as { unref?: () => void }).unref?.()
    ;(this.pagePort as unknown as { unref?: () => void }).unref?.()
    this.pagePort.onmessage = (event) => {
      const message = event.data as SwToAgentMessage
      this.received.push(message)
      this.onMessage(message, this)
      for (const wake of this.waiters.splice(0)) wake()
    }
  }

  send(message: unknown, transfer: Transferable[] = []): void {
    this.pagePort.postMessage(message, transfer)
  }

  sendPiece(requestId: number, index: number, source: ManifestAsset = asset, data: Uint8Array = bytes): ArrayBuffer {
    const buffer = pieceOf(data, source, index).slice().buffer
    this.send({ type: 'piece', requestId, index, bytes: buffer }, [buffer])
    return buffer
  }

  /** Resolves when a message matching `predicate` has arrived. */
  async waitFor<T extends SwToAgentMessage['type']>(type: T): Promise<Extract<SwToAgentMessage, { type: T }>> {
    for (;;) {
      const found = this.received.find((m) => m.type === type)
      if (found) return found as Extract<SwToAgentMessage, { type: T }>
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  of<T extends SwToAgentMessage['type']>(type: T): Extract<SwToAgentMessage, { type: T }>[] {
    return this.received.filter((m) => m.type === type) as Extract<SwToAgentMessage, { type: T }>[]
  }

  close(): void {
    this.pagePort.close()
    this.swPort.close()
  }
}

function setup(agentIds: string[], enabled?: () => boolean, recentPiece?: (infoHash: string, index: number) => Uint8Array | undefined) {
  const agents = createAgentRegistry()
  const fakes = new Map<string, FakeAgent>()
  const peers = createPortPeerPieces({ agents, pingTimeoutMs: 50, enabled, recentPiece })
  for (const id of agentIds) {
    const fake = new FakeAgent()
    fakes.set(id, fake)
    agents.register(id, fake.swPort)
    peers.stateOf(fake.swPort)
  }
  const closeAll = () => {
    for (const fake of fakes.values()) fake.close()
  }
  return { agents, fakes, peers, closeAll }
}

// MessagePort delivery is asynchronous; generous for a loaded machine.
const tick = () => new Promise((resolve) => setTimeout(resolve, 100))

test('availability reports decide which agent is asked: the requesting page first, else one that has the piece', async () => {
  const { fakes, peers, closeAll } = setup(['page-a', 'page-b'])
  try {
    const a = fakes.get('page-a')!
    const b = fakes.get('page-b')!
    assert.equal(peers.has(asset.infoHash, 0, 'page-a'), false, 'nothing reported yet: nothing to wait for')
    b.send({ type: 'availability', infoHash: asset.infoHash, indexes: [0, 1], available: true })
    a.send({ type: 'availability', infoHash: asset.infoHash, indexes: [1], available: true })
    await tick()
    assert.equal(peers.has(asset.infoHash, 0, 'page-a'), true)
    assert.equal(peers.has(asset.infoHash, 2, 'page-a'), false)
    b.onMessage = (message, agent) => message.type === 'get-pieces' && agent.sendPiece(message.requestId, message.indexes[0])
    a.onMessage = (message, agent) => message.type === 'get-pieces' && agent.sendPiece(message.requestId, message.indexes[0])
    assert.deepEqual(await peers.request(asset, 0, 'page-a').promise, pieceOf(bytes, asset, 0))
    assert.deepEqual(b.of('get-pieces').map((m) => [m.infoHash, m.indexes]), [[asset.infoHash, [0]]], 'only page-b holds piece 0')
    assert.deepEqual(await peers.request(asset, 1, 'page-a').promise, pieceOf(bytes, asset, 1))
    assert.equal(a.of('get-pieces').length, 1, 'page-a asked first for the piece it can get')
    // A piece no longer held by anyone is not waited for.
    b.send({ type: 'availability', infoHash: asset.infoHash, indexes: [0], available: false })
    await tick()
    assert.equal(peers.has(asset.infoHash, 0), false)
    await assert.rejects(peers.request(asset, 0).promise)
  } finally {
    closeAll()
  }
})

test('unavailable rejects the request; cancel tells the agent; a bad verdict goes to the agent that delivered', async () => {
  const { fakes, peers, closeAll } = setup(['page-a'])
  try {
    const a = fakes.get('page-a')!
    a.send({ type: 'availability', infoHash: asset.infoHash, indexes: [0, 1, 2], available: true })
    await tick()
    a.onMessage = (message, agent) => {
      if (message.type !== 'get-pieces') return
      if (message.indexes[0] === 0) agent.send({ type: 'unavailable', requestId: message.requestId, indexes: [0] })
      if (message.indexes[0] === 2) agent.sendPiece(message.requestId, 2)
    }
    await assert.rejects(peers.request(asset, 0, 'page-a').promise)
    const pending = peers.request(asset, 1, 'page-a')
    pending.cancel()
    await tick()
    assert.equal(a.of('cancel').length, 1)
    await peers.request(asset, 2, 'page-a').promise
    peers.verdict(asset, 2, false)
    assert.deepEqual(await a.waitFor('bad-piece'), { type: 'bad-piece', infoHash: asset.infoHash, index: 2 })
  } finally {
    closeAll()
  }
})

test('settling follows the agent: a page that navigated, then its agent connecting, then settled', async () => {
  const { agents, fakes, peers, closeAll } = setup(['page-a'])
  try {
    assert.equal(peers.settling('new-page'), true, 'a page whose agent may still register')
    agents.markNoAgent('new-page')
    assert.equal(peers.settling('new-page'), false, 'a page without P2P is never waited for')
    assert.equal(peers.settling('page-a'), true, 'registered, nothing said yet')
    const woken: Array<string | null> = []
    peers.onAvailable((infoHash) => woken.push(infoHash))
    fakes.get('page-a')!.send({ type: 'swarm', peers: 0, settling: false })
    await tick()
    assert.equal(peers.settling('page-a'), false)
    assert.deepEqual(woken, [null])
    assert.equal(peers.settling('next-page'), false, 'the last agent was alone: a new page does not wait for peers')
  } finally {
    closeAll()
  }
})

test('the trackers counting nobody ends every hold at once, not the piece path; an agent with peers makes that count stale and unwanted', async () => {
  const { fakes, peers, closeAll } = setup(['page-a'])
  try {
    const woken: Array<string | null> = []
    peers.onAvailable((infoHash) => woken.push(infoHash))
    assert.equal(peers.wantsCount(), true, 'nothing known about the swarm yet')
    peers.noteCount(null)
    peers.noteCount(2)
    assert.equal(peers.holds('new-page'), true, 'unknown or members counted: the new page waits for its agent')
    assert.deepEqual(woken, [])
    peers.noteCount(0)
    assert.deepEqual(woken, [null], 'held batches are woken')
    assert.equal(peers.holds('new-page'), false, 'a page whose agent has not loaded yet')
    assert.equal(peers.holds('page-a'), false, 'an agent still connecting')
    assert.equal(peers.holds(), false, 'a media request without a client id')
    // Still about to find peers (one may arrive a moment later): the page stays on the piece path,
    // where what it fetches is shared at once, but plans its reads as a visitor alone.
    assert.equal(peers.settling('new-page'), true)
    assert.equal(peers.crowd('page-a'), false)
    assert.equal(peers.wantsCount(), false, 'the count is fresh')
    // Someone arrived after all: the agent found a peer.
    fakes.get('page-a')!.send({ type: 'swarm', peers: 1, settling: true })
    await tick()
    assert.equal(peers.holds('page-a'), true, 'the count no longer stands')
    assert.equal(peers.crowd('new-page'), true)
    assert.equal(peers.wantsCount(), false, 'an agent has peers: the swarm is not empty')
    peers.noteCount(0)
    assert.equal(peers.holds('page-a'), true, 'a count of nobody while an agent has peers is ignored')
  } finally {
    closeAll()
  }
})

test('no agent is waited for when the site has no swarm', async () => {
  let swarm = true
  const off = setup(['page-c'], () => swarm)
  try {
    assert.equal(off.peers.settling('page-c'), true)
    swarm = false
    off.fakes.get('page-c')!.send({ type: 'availability', infoHash: asset.infoHash, indexes: [0], available: true })
    await tick()
    assert.equal(off.peers.settling('page-c'), false, 'no swarm: nothing to wait for')
    assert.equal(off.peers.crowd('page-c'), false)
    assert.equal(off.peers.has(asset.infoHash, 0, 'page-c'), false)
  } finally {
    off.closeAll()
  }
})

test('an agent that does not answer a ping is suspected and its requests fail', async () => {
  const agents = createAgentRegistry()
  const fake = new FakeAgent()
  agents.register('page-a', fake.swPort)
  const peers = createPortPeerPieces({ agents, pingAfterIdleMs: 0, pingTimeoutMs: 30 })
  peers.stateOf(fake.swPort)
  try {
    fake.send({ type: 'availability', infoHash: asset.infoHash, indexes: [0], available: true })
    await tick()
    await assert.rejects(peers.request(asset, 0, 'page-a').promise)
    assert.equal(fake.of('ping').length, 1)
  } finally {
    fake.close()
  }
})

test('every agent learns what the SW stored; the bytes go only to an agent with peers, of the pieces none of them holds', async () => {
  const { fakes, peers, closeAll } = setup(['alone', 'crowd', 'late'])
  try {
    fakes.get('crowd')!.send({ type: 'swarm', peers: 3, settling: false })
    fakes.get('crowd')!.send({ type: 'availability', infoHash: asset.infoHash, indexes: [4], available: true })
    fakes.get('late')!.send({ type: 'swarm', peers: 2, settling: false })
    fakes.get('late')!.send({ type: 'availability', infoHash: asset.infoHash, indexes: [4, 5], available: true })
    await tick()
    peers.notifyStored(asset.infoHash, [4, 5].map((index) => ({ index, bytes: pieceOf(bytes, asset, index) })))
    assert.deepEqual(await fakes.get('alone')!.waitFor('stored'), { type: 'stored', infoHash: asset.infoHash, indexes: [4, 5] }, 'no peers: no bytes')
    assert.deepEqual(await fakes.get('late')!.waitFor('stored'), { type: 'stored', infoHash: asset.infoHash, indexes: [4, 5] }, 'its peers hold both: no bytes')
    const crowd = await fakes.get('crowd')!.waitFor('stored')
    assert.deepEqual(crowd.indexes, [4, 5])
    assert.equal(crowd.pieces?.[0], null, 'a peer holds piece 4')
    assert.deepEqual(new Uint8Array(crowd.pieces![1]!), pieceOf(bytes, asset, 5), 'nobody around holds piece 5')
  } finally {
    closeAll()
  }
})

test('the notifying store announces what it stored, in one batch per asset, and keeps the latest in memory', async () => {
  const flushes: Array<() => void> = []
  const announced: Array<[string, number[]]> = []
  const store = withStoredNotifications(createMemoryPieceStore({ budgetBytes: 10 * PIECE }), (infoHash, stored) => announced.push([infoHash, stored.map((piece) => piece.index)]), {
    recentBytes: 2 * PIECE,
    setTimer: (callback) => flushes.push(callback),
  })
  const written = pieceOf(bytes, asset, 2).slice()
  for (const index of [1, 2, 3]) await store.put(asset.infoHash, index, index === 2 ? written : pieceOf(bytes, asset, index))
  written.fill(0) // the caller's buffer is the response's: the memory keeps its own copy
  assert.equal(flushes.length, 1, 'one batch')
  flushes[0]!()
  assert.deepEqual(announced, [[asset.infoHash, [1, 2, 3]]])
  assert.deepEqual(store.recent(asset.infoHash, 2), pieceOf(bytes, asset, 2))
  assert.equal(store.recent(asset.infoHash, 1), undefined, 'past the memory bound')
  assert.deepEqual(await store.get(asset.infoHash, 1), pieceOf(bytes, asset, 1), 'still in the store')
})

test('the notifying store announces a piece once its write has succeeded, and never one whose write failed', async () => {
  const flushes: Array<() => void> = []
  const announced: number[] = []
  const inner = createMemoryPieceStore({ budgetBytes: 10 * PIECE })
  let commit!: () => void
  const committed = new Promise<void>((resolve) => (commit = resolve))
  // A store that gathers writes for a while (as piece-store-idb.ts does) before it commits, and fails piece 5.
  const slow = { ...inner, put: async (infoHash: string, index: number, piece: Uint8Array) => (await committed, index === 5 ? false : inner.put(infoHash, index, piece)) }
  const store = withStoredNotifications(slow, (_infoHash, stored) => announced.push(...stored.map((piece) => piece.index)), { setTimer: (callback) => flushes.push(callback) })
  const puts = [store.put(asset.infoHash, 4, pieceOf(bytes, asset, 4)), store.put(asset.infoHash, 5, pieceOf(bytes, asset, 5))]
  await tick()
  flushes.splice(0).forEach((flush) => flush())
  assert.deepEqual(announced, [], 'nothing announced before the commit')
  assert.equal(store.recent(asset.infoHash, 4), undefined, 'nor offered from memory')
  commit()
  assert.deepEqual(await Promise.all(puts), [true, false])
  flushes.splice(0).forEach((flush) => flush())
  assert.deepEqual(announced, [4], 'the stored piece, not the failed one')
  assert.deepEqual(store.recent(asset.infoHash, 4), pieceOf(bytes, asset, 4))
  assert.equal(store.recent(asset.infoHash, 5), undefined)
})

test('an agent reads a piece the SW stored lately from its memory; one it no longer holds comes back null', async () => {
  const memory = new Map([[2, pieceOf(bytes, asset, 2)]])
  const { fakes, closeAll } = setup(['page-a'], undefined, (infoHash, index) => (infoHash === asset.infoHash ? memory.get(index) : undefined))
  try {
    const fake = fakes.get('page-a')!
    fake.send({ type: 'read-piece', requestId: 7, infoHash: asset.infoHash, index: 2 })
    fake.send({ type: 'read-piece', requestId: 8, infoHash: asset.infoHash, index: 1 })
    const deadline = Date.now() + 2000
    while (fake.of('recent-piece').length < 2 && Date.now() < deadline) await tick()
    const answers = new Map(fake.of('recent-piece').map((message) => [message.requestId, message.bytes]))
    assert.deepEqual(new Uint8Array(answers.get(7)!), pieceOf(bytes, asset, 2), 'piece 2 from memory')
    assert.equal(answers.get(8), null, 'piece 1 not in memory')
    assert.deepEqual(memory.get(2), pieceOf(bytes, asset, 2), 'the memory keeps its bytes after the transfer')
    assert.equal(parseAgentMessage({ type: 'read-piece', requestId: 1, infoHash: 'zz', index: 0 }), null)
  } finally {
    closeAll()
  }
})

test('parseAgentMessage refuses malformed messages; absoluteTrackerUrls resolves same-origin paths', () => {
  assert.equal(parseAgentMessage({ type: 'piece', requestId: 1, index: -1, bytes: new ArrayBuffer(1) }), null)
  assert.equal(parseAgentMessage({ type: 'unavailable', requestId: 1, indexes: ['x'] }), null)
  assert.equal(parseAgentMessage({ type: 'weird', requestId: 1 }), null)
  assert.equal(parseAgentMessage({ type: 'availability', infoHash: 'xyz', indexes: [1], available: true }), null)
  assert.deepEqual(parseAgentMessage({ type: 'pong', nonce: 3 }), { type: 'pong', nonce: 3 })
  assert.deepEqual(absoluteTrackerUrls(['/__swarmcdn/tracker', 'wss://t.example/a'], 'https://site.example'), [
    'wss://site.example/__swarmcdn/tracker',
    'wss://t.example/a',
  ])
  assert.deepEqual(absoluteTrackerUrls(['/t'], 'http://localhost:8080'), ['ws://localhost:8080/t'])
})

// The same contract for the port and for the scripted peers the fetcher's tests use.
peerPiecesContract('PeerPieces over agent ports', ({ asset: contractAsset, bytes: contractBytes, hang }) => {
  const { fakes, peers, closeAll } = setup(['page-a'])
  const agent = fakes.get('page-a')!
  agent.onMessage = (message, fake) => {
    if (message.type !== 'get-pieces') return
    for (const index of message.indexes) if (!hang.includes(index)) fake.sendPiece(message.requestId, index, contractAsset, contractBytes)
  }
  return {
    peers,
    async offer(indexes) {
      agent.send({ type: 'swarm', peers: 1, settling: false })
      agent.send({ type: 'availability', infoHash: contractAsset.infoHash, indexes, available: true })
      await tick()
    },
    close: closeAll,
  }
})

peerPiecesContract('scripted peers (sw-fixtures.ts)', ({ asset: contractAsset, bytes: contractBytes, hang }) => {
  const peers = createFakePeers(contractBytes, { have: [], hang, infoHash: contractAsset.infoHash })
  return { peers, offer: async (indexes) => peers.add(indexes), close: () => undefined }
})

export type { AgentRegistry }
