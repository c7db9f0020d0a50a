// The SW's peer source over real MessageChannels, with fake agents on the other end.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ManifestAsset } from '../core/manifest-format.ts'
import { createAgentRegistry, type AgentRegistry } from '../sw/agent-registry.ts'
import { absoluteTrackerUrls, parseAgentMessage, type SwToAgentMessage } from '../sw/agent-protocol.ts'
import { createPortPeerSource, notifyStored, type PortPeerSourceOptions } from '../sw/peer-source-port.ts'
import type { PieceDelivery, PieceSource } from '../sw/piece-source.ts'
import { withStoredNotifications } from '../sw/stored-notifier.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { PIECE, makeAsset, makeBytes, pieceOf } from './sw-fixtures.ts'

const bytes = makeBytes(6 * PIECE + 100, 3)
const asset = makeAsset(bytes, { path: '/media/clip.mp4' })
const TRACKERS = ['wss://site.example/__swarmcdn/tracker']

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

function setup(agentIds: string[], options: Partial<PortPeerSourceOptions> = {}) {
  const agents = createAgentRegistry()
  const fakes = new Map<string, FakeAgent>()
  for (const id of agentIds) {
    const fake = new FakeAgent()
    fakes.set(id, fake)
    agents.register(id, fake.swPort)
  }
  const source = createPortPeerSource({ agents, config: { pieceDeadlineMs: 2000, agentWaitMs: 200 }, trackers: () => TRACKERS, ...options })
  const closeAll = () => {
    for (const fake of fakes.values()) fake.close()
  }
  return { agents, fakes, source, closeAll }
}

async function collect(iterable: AsyncIterable<PieceDelivery>): Promise<PieceDelivery[]> {
  const got: PieceDelivery[] = []
  for await (const piece of iterable) got.push(piece)
  return got
}

const signal = () => new AbortController().signal

test('asks the requesting page first, with the asset, absolute trackers and indexes; bytes arrive intact', async () => {
  const { fakes, source, closeAll } = setup(['page-a', 'page-b'])
  const b = fakes.get('page-b')!
  const a = fakes.get('page-a')!
  b.onMessage = (message, agent) => {
    if (message.type !== 'get-pieces') return
    for (const index of message.indexes) agent.sendPiece(message.requestId, index)
    agent.send({ type: 'end', requestId: message.requestId })
  }
  try {
    const got = await collect(source.fetchPieces(asset, [1, 2, 6], { signal: signal(), clientId: 'page-b' }))
    assert.deepEqual(
      got.map((p) => p.index),
      [1, 2, 6],
    )
    for (const piece of got) assert.deepEqual(piece.bytes, pieceOf(bytes, asset, piece.index))
    const request = b.of('get-pieces')[0]!
    assert.deepEqual(request.asset, asset)
    assert.deepEqual(request.trackers, TRACKERS)
    assert.deepEqual(request.indexes, [1, 2, 6])
    assert.equal(a.received.length, 0, 'the other agent is not asked')
  } finally {
    closeAll()
  }
})

test('the transferred buffer is detached on the agent side (no copy kept in the page)', async () => {
  const { fakes, source, closeAll } = setup(['page-a'])
  let sent: ArrayBuffer | undefined
  fakes.get('page-a')!.onMessage = (message, agent) => {
    if (message.type === 'get-pieces') sent = agent.sendPiece(message.requestId, 0)
  }
  try {
    const [piece] = await collect(source.fetchPieces(asset, [0], { signal: signal(), clientId: 'page-a' }))
    assert.equal(sent!.byteLength, 0, 'transferred, not cloned')
    assert.deepEqual(piece!.bytes, pieceOf(bytes, asset, 0))
  } finally {
    closeAll()
  }
})

test('falls back to ONE other agent, the oldest, when the requesting page has none', async () => {
  const { fakes, source, closeAll } = setup(['old', 'middle', 'young'])
  for (const fake of fakes.values()) {
    fake.onMessage = (message, agent) => {
      if (message.type === 'get-pieces') agent.send({ type: 'unavailable', requestId: message.requestId, indexes: message.indexes })
    }
  }
  try {
    const got = await collect(source.fetchPieces(asset, [3], { signal: signal(), clientId: 'no-agent-page' }))
    assert.deepEqual(got, [])
    assert.equal(fakes.get('old')!.of('get-pieces').length, 1)
    assert.equal(fakes.get('middle')!.of('get-pieces').length, 0)
    assert.equal(fakes.get('young')!.of('get-pieces').length, 0)
  } finally {
    closeAll()
  }
})

test('unavailable pieces end the request early, without waiting for end or a deadline', async () => {
  const { fakes, source, closeAll } = setup(['page-a'])
  fakes.get('page-a')!.onMessage = (message, agent) => {
    if (message.type !== 'get-pieces') return
    agent.sendPiece(message.requestId, 2)
    agent.send({ type: 'unavailable', requestId: message.requestId, indexes: [3, 4] })
    // never sends 'end'
  }
  try {
    const started = Date.now()
    const got = await collect(source.fetchPieces(asset, [2, 3, 4], { signal: signal(), clientId: 'page-a' }))
    assert.deepEqual(
      got.map((p) => p.index),
      [2],
    )
    assert.ok(Date.now() - started < 1000)
    assert.equal(fakes.get('page-a')!.of('cancel').length, 0, 'a finished request is not cancelled')
  } finally {
    closeAll()
  }
})

test('abort sends cancel and ends the iteration; late pieces are ignored', async () => {
  const { fakes, source, closeAll } = setup(['page-a'])
  const agent = fakes.get('page-a')!
  agent.onMessage = (message, a) => {
    if (message.type === 'get-pieces') a.sendPiece(message.requestId, 0)
  }
  const controller = new AbortController()
  try {
    const iterator = source.fetchPieces(asset, [0, 1], { signal: controller.signal, clientId: 'page-a' })[Symbol.asyncIterator]()
    const first = await iterator.next()
    assert.equal(first.done, false)
    controller.abort()
    const cancel = await agent.waitFor('cancel')
    assert.equal(cancel.requestId, agent.of('get-pieces')[0]!.requestId)
    agent.sendPiece(cancel.requestId, 1)
    assert.deepEqual(await iterator.next(), { done: true, value: undefined })
  } finally {
    closeAll()
  }
})

test('breaking out of the loop (iterator.return) cancels too', async () => {
  const { fakes, source, closeAll } = setup(['page-a'])
  const agent = fakes.get('page-a')!
  agent.onMessage = (message, a) => {
    if (message.type === 'get-pieces') a.sendPiece(message.requestId, 5)
  }
  try {
    for await (const piece of source.fetchPieces(asset, [5, 6], { signal: signal(), clientId: 'page-a' })) {
      assert.equal(piece.index, 5)
      break
    }
    const cancel = await agent.waitFor('cancel')
    assert.equal(cancel.requestId, agent.of('get-pieces')[0]!.requestId)
  } finally {
    closeAll()
  }
})

test('pieces not asked for, duplicates, and messages of other requests are dropped', async () => {
  const { fakes, source, closeAll } = setup(['page-a'])
  fakes.get('page-a')!.onMessage = (message, agent) => {
    if (message.type !== 'get-pieces') return
    agent.sendPiece(message.requestId + 100, 1) // unknown request
    agent.sendPiece(message.requestId, 4) // not asked
    agent.sendPiece(message.requestId, 1)
    agent.sendPiece(message.requestId, 1) // duplicate
    agent.send({ type: 'piece', requestId: message.requestId, index: 2, bytes: 'not a buffer' })
    agent.send({ type: 'end', requestId: message.requestId })
  }
  try {
    const got = await collect(source.fetchPieces(asset, [1, 2], { signal: signal(), clientId: 'page-a' }))
    assert.deepEqual(
      got.map((p) => p.index),
      [1],
    )
  } finally {
    closeAll()
  }
})

test('isAvailable follows the registry; no agent → the iteration ends at once', async () => {
  const { agents, source, closeAll } = setup([])
  try {
    assert.equal(source.isAvailable!(), false)
    assert.deepEqual(await collect(source.fetchPieces(asset, [0], { signal: signal() })), [])
    const fake = new FakeAgent()
    agents.register('late', fake.swPort)
    assert.equal(source.isAvailable!(), true)
    agents.unregister('late')
    assert.equal(source.isAvailable!(), false)
    fake.close()
  } finally {
    closeAll()
  }
})

test('a failed verdict sends bad-piece to the agent that delivered the piece; a good one does not', async () => {
  const { fakes, source, closeAll } = setup(['page-a', 'page-b'])
  const a = fakes.get('page-a')!
  a.onMessage = (message, agent) => {
    if (message.type !== 'get-pieces') return
    for (const index of message.indexes) agent.sendPiece(message.requestId, index)
  }
  try {
    const got = await collect(source.fetchPieces(asset, [0, 1], { signal: signal(), clientId: 'page-a' }))
    assert.equal(got.length, 2)
    source.onPieceVerdict!(asset, 0, { ok: true })
    source.onPieceVerdict!(asset, 1, { ok: false, code: 'piece-hash-mismatch' })
    const bad = await a.waitFor('bad-piece')
    assert.deepEqual(bad, { type: 'bad-piece', infoHash: asset.infoHash, index: 1 })
    assert.equal(a.of('bad-piece').length, 1)
    assert.equal(fakes.get('page-b')!.received.length, 0)
  } finally {
    closeAll()
  }
})

test('an agent that does not answer a ping is suspected: its request ends, the next goes elsewhere', async () => {
  let nowMs = 0
  const timers: Array<{ at: number; callback: () => void }> = []
  const { fakes, source, closeAll } = setup(['frozen', 'alive'], {
    now: () => nowMs,
    setTimer: (callback, ms) => {
      const timer = { at: nowMs + ms, callback }
      timers.push(timer)
      return () => timers.splice(timers.indexOf(timer) >>> 0, 1)
    },
    pingAfterIdleMs: 1000,
    pingTimeoutMs: 500,
  })
  const alive = fakes.get('alive')!
  alive.onMessage = (message, agent) => {
    if (message.type === 'ping') agent.send({ type: 'pong', nonce: message.nonce })
    if (message.type === 'get-pieces') {
      for (const index of message.indexes) agent.sendPiece(message.requestId, index)
    }
  }
  try {
    nowMs = 5000 // both idle since creation
    const frozenRun = collect(source.fetchPieces(asset, [0], { signal: signal(), clientId: 'frozen' }))
    await fakes.get('frozen')!.waitFor('ping')
    nowMs = 5600
    for (const timer of timers.splice(0)) timer.callback()
    assert.deepEqual(await frozenRun, [], 'ended without pieces, so HTTP takes over')
    // The frozen page asks again: its own agent is suspect, so the live one is asked.
    const got = await collect(source.fetchPieces(asset, [1], { signal: signal(), clientId: 'frozen' }))
    assert.deepEqual(
      got.map((p) => p.index),
      [1],
    )
    assert.equal(fakes.get('frozen')!.of('get-pieces').length, 1)
  } finally {
    closeAll()
  }
})

test('notifyStored and the notifying store tell every agent which pieces the SW stored', async () => {
  const { agents, fakes, closeAll } = setup(['page-a', 'page-b'])
  try {
    notifyStored(agents, asset.infoHash, [4, 5])
    for (const fake of fakes.values()) assert.deepEqual(await fake.waitFor('stored'), { type: 'stored', infoHash: asset.infoHash, indexes: [4, 5] })

    const flushes: Array<() => void> = []
    const store = withStoredNotifications(createMemoryPieceStore({ budgetBytes: 10 * PIECE }), agents, { setTimer: (callback) => flushes.push(callback) })
    await store.put(asset.infoHash, 0, pieceOf(bytes, asset, 0))
    await store.put(asset.infoHash, 1, pieceOf(bytes, asset, 1))
    assert.equal(flushes.length, 1, 'one batch')
    flushes[0]!()
    const b = fakes.get('page-b')!
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepEqual(b.of('stored')[1], { type: 'stored', infoHash: asset.infoHash, indexes: [0, 1] })
    assert.deepEqual(await store.get(asset.infoHash, 1), pieceOf(bytes, asset, 1))
  } finally {
    closeAll()
  }
})

test('parseAgentMessage refuses malformed messages; absoluteTrackerUrls resolves same-origin paths', () => {
  assert.equal(parseAgentMessage({ type: 'piece', requestId: 1, index: -1, bytes: new ArrayBuffer(1) }), null)
  assert.equal(parseAgentMessage({ type: 'unavailable', requestId: 1, indexes: ['x'] }), null)
  assert.equal(parseAgentMessage({ type: 'weird', requestId: 1 }), null)
  assert.deepEqual(parseAgentMessage({ type: 'end', requestId: 3 }), { type: 'end', requestId: 3 })
  assert.deepEqual(absoluteTrackerUrls(['/__swarmcdn/tracker', 'wss://t.example/a'], 'https://site.example'), [
    'wss://site.example/__swarmcdn/tracker',
    'wss://t.example/a',
  ])
  assert.deepEqual(absoluteTrackerUrls(['/t'], 'http://localhost:8080'), ['ws://localhost:8080/t'])
})

// Keeps the type import used when assertions change.
export type { AgentRegistry, PieceSource }

test('a page that has just navigated gets a bounded wait for its agent, then HTTP takes over', async () => {
  const { agents, fakes, source, closeAll } = setup(['old-page'])
  try {
    // The new page has no agent yet: the source waits for it instead of asking the old page's.
    assert.equal(source.isAvailable!('new-page'), true)
    const late = new FakeAgent()
    late.onMessage = (message, agent) => {
      if (message.type === 'get-pieces') {
        for (const index of message.indexes) agent.sendPiece(message.requestId, index)
      }
    }
    setTimeout(() => agents.register('new-page', late.swPort), 50)
    const got: number[] = []
    for await (const piece of source.fetchPieces(asset, [0, 1], { signal: new AbortController().signal, clientId: 'new-page' })) got.push(piece.index)
    assert.deepEqual(got.sort(), [0, 1])
    assert.equal(fakes.get('old-page')!.of('get-pieces').length, 0, 'asked another page while its own agent was starting')
    late.close()

    // A page whose agent never comes: one bounded wait, then the oldest other agent; never a second wait.
    const started = Date.now()
    const iterable = source.fetchPieces(asset, [2], { signal: new AbortController().signal, clientId: 'no-agent-page' })
    const pending = (async () => { for await (const _ of iterable) { /* drain */ } })()
    await fakes.get('old-page')!.waitFor('get-pieces')
    assert.ok(Date.now() - started >= 190, 'did not wait for the page agent')
    fakes.get('old-page')!.send({ type: 'end', requestId: fakes.get('old-page')!.of('get-pieces')[0].requestId })
    await pending
    assert.equal(agents.mayRegister('no-agent-page'), false)
    agents.markNoAgent('p2p-off-page')
    assert.equal(agents.mayRegister('p2p-off-page'), false)
  } finally {
    closeAll()
  }
})
