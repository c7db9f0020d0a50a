// The service worker's count of the site swarm (sw/swarm-probe.ts) against the real tracker
// (swarmcdn's, on bittorrent-tracker), with a visitor joining through the real tracker client.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import WebSocket from 'ws'
import { startTracker } from './helpers/site-swarm-fixture.ts'
import { countSwarmMembers, parseScrape } from '../sw/swarm-probe.ts'
import { createTrackerClient, newPeerId } from '../peer/tracker-client.ts'
import { hexToBinaryString } from '../peer/peer-wire.ts'

const SWARM = randomBytes(20).toString('hex')
const deps = { WebSocket: WebSocket as unknown as typeof globalThis.WebSocket, timeoutMs: 2000 }

test('the swarm count is 0 for an empty swarm, and counts a visitor once it has joined', { timeout: 10_000 }, async () => {
  const tracker = await startTracker(SWARM)
  let joined!: () => void
  const sized = new Promise<void>((resolve) => (joined = resolve))
  assert.equal(await countSwarmMembers([tracker.url], SWARM, deps), 0)
  // The client connects and joins as it is made.
  const visitor = createTrackerClient({
    url: tracker.url,
    swarmId: SWARM,
    peerId: newPeerId(),
    WebSocket: deps.WebSocket,
    seeder: false,
    wantedOffers: () => 1,
    createOffers: () => new Promise(() => undefined),
    onOffer: async () => null,
    onAnswer: () => undefined,
    onSwarmSize: () => joined(),
  })
  try {
    await sized
    assert.equal(await countSwarmMembers([tracker.url], SWARM, deps), 1)
    assert.equal(await countSwarmMembers([tracker.url, tracker.url], SWARM, deps), 2, 'members on every tracker add up')
  } finally {
    visitor.destroy()
    await tracker.close()
  }
})

test('a tracker that cannot be reached, refuses, or never answers makes the count unknown, never "nobody"', { timeout: 10_000 }, async () => {
  const tracker = await startTracker(SWARM)
  // Accepts the WebSocket upgrade's TCP connection and never answers it.
  const silent = createServer()
  silent.on('upgrade', () => undefined)
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const silentUrl = `ws://127.0.0.1:${(silent.address() as { port: number }).port}/`
  try {
    const started = Date.now()
    assert.equal(await countSwarmMembers([silentUrl], SWARM, { ...deps, timeoutMs: 300 }), null)
    assert.ok(Date.now() - started < 2000, 'bounded by the timeout')
    assert.equal(await countSwarmMembers([tracker.url, 'ws://127.0.0.1:1/'], SWARM, deps), null, 'one tracker of two unreachable')
    assert.equal(await countSwarmMembers([], SWARM, deps), null, 'no trackers at all')
  } finally {
    silent.closeAllConnections()
    silent.close()
    await tracker.close()
  }
})

test('parseScrape reads only a scrape reply for the swarm asked about', () => {
  const key = hexToBinaryString(SWARM)
  assert.equal(parseScrape(JSON.stringify({ action: 'scrape', files: { [key]: { complete: 2, incomplete: 3 } } }), SWARM), 5)
  assert.equal(parseScrape(JSON.stringify({ action: 'announce', files: { [key]: { complete: 2, incomplete: 3 } } }), SWARM), null)
  assert.equal(parseScrape(JSON.stringify({ action: 'scrape', files: { [hexToBinaryString('00'.repeat(20))]: { complete: 0, incomplete: 0 } } }), SWARM), null)
  assert.equal(parseScrape(JSON.stringify({ action: 'scrape', files: { [key]: { complete: '0' } } }), SWARM), null)
  assert.equal(parseScrape('not json', SWARM), null)
  assert.equal(parseScrape(new ArrayBuffer(4), SWARM), null)
})
