// The tracker client (peer/tracker-client.ts) against the real tracker (swarmcdn's, on bittorrent-tracker).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { startTracker } from './helpers/site-swarm-fixture.ts'
import { createTrackerClient, newPeerId, type TrackerClientDeps } from '../peer/tracker-client.ts'

const SWARM = randomBytes(20).toString('hex')

/** A visitor's client of the tracker at `url`, with the test's own offers and socket. */
function clientOf(url: string, parts: Pick<TrackerClientDeps, 'wantedOffers' | 'createOffers'> & Partial<TrackerClientDeps>): ReturnType<typeof createTrackerClient> {
  return createTrackerClient({
    url,
    swarmId: SWARM,
    peerId: newPeerId(),
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    seeder: false,
    onOffer: async () => null,
    onAnswer: () => undefined,
    ...parts,
  })
}

test('a visitor learns the swarm\'s size before its offers are gathered: alone, it need not wait for ICE to know nobody is there', { timeout: 10_000 }, async () => {
  const tracker = await startTracker(SWARM)
  let offersAsked = 0
  const sizes: number[] = []
  let sized!: () => void
  const firstSize = new Promise<void>((resolve) => (sized = resolve))
  const client = clientOf(tracker.url, {
    wantedOffers: () => 5,
    // ICE gathering that has not finished (a slow STUN server): the offers never come.
    createOffers: () => ((offersAsked++), new Promise(() => undefined)),
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

test('the first offers are gathered while the tracker socket connects, and go out in the announce after the join', { timeout: 10_000 }, async () => {
  const tracker = await startTracker(SWARM)
  const events: string[] = []
  let sent!: (message: Record<string, unknown>) => void
  const withOffers = new Promise<Record<string, unknown>>((resolve) => (sent = resolve))
  // The socket as the client sees it, noting when it opened and what went out.
  class WatchedSocket extends WebSocket {
    constructor(url: string) {
      super(url)
      events.push('socket made')
      this.on('open', () => events.push('socket open'))
    }
    override send(data: string) {
      const message = JSON.parse(data) as Record<string, unknown>
      if (Array.isArray(message.offers) && message.offers.length > 0) sent(message)
      super.send(data)
    }
  }
  const client = clientOf(tracker.url, {
    WebSocket: WatchedSocket as unknown as typeof globalThis.WebSocket,
    wantedOffers: () => 2,
    createOffers: async (count) => {
      events.push(`offers asked (${count})`)
      return Array.from({ length: count }, (_, i) => ({ offerId: randomBytes(20).toString('hex'), sdp: { type: 'offer' as const, sdp: `v=0 offer ${i}` } }))
    },
  })
  try {
    const message = await withOffers
    assert.equal((message.offers as unknown[]).length, 2)
    assert.deepEqual(events.slice(0, 3), ['socket made', 'offers asked (2)', 'socket open'], 'gathering started before the socket opened')
    assert.equal(events.filter((event) => event.startsWith('offers asked')).length, 1, 'the early offers were the ones sent')
  } finally {
    client.destroy()
    await tracker.close()
  }
})
