// The tracker client (peer/tracker-client.ts) against the real tracker (swarmcdn's, on bittorrent-tracker).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { startTracker } from './helpers/site-swarm-fixture.ts'
import { createTrackerClient, newPeerId } from '../peer/tracker-client.ts'

const SWARM = randomBytes(20).toString('hex')

test('a visitor learns the swarm\'s size before its offers are gathered: alone, it need not wait for ICE to know nobody is there', { timeout: 10_000 }, async () => {
  const tracker = await startTracker(SWARM)
  let offersAsked = 0
  const sizes: number[] = []
  let sized!: () => void
  const firstSize = new Promise<void>((resolve) => (sized = resolve))
  const client = createTrackerClient({
    url: tracker.url,
    swarmId: SWARM,
    peerId: newPeerId(),
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    seeder: false,
    wantedOffers: () => 5,
    // ICE gathering that has not finished (a slow STUN server): the offers never come.
    createOffers: () => ((offersAsked++), new Promise(() => undefined)),
    onOffer: async () => null,
    onAnswer: () => undefined,
    onSwarmSize: (size) => {
      sizes.push(size)
      sized()
    },
  })
  try {
    await firstSize
    assert.equal(offersAsked, 1, 'the offers are being gathered meanwhile')
    assert.deepEqual(sizes, [1], 'the tracker counts this visitor alone')
  } finally {
    client.destroy()
    await tracker.close()
  }
})
