import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createPieceRequests } from '../loader/agent/piece-requests.ts'

const H = 'a'.repeat(40)
const G = 'b'.repeat(40)

test('a delivered piece goes to every request waiting for it; the last one finishes the request', () => {
  const requests = createPieceRequests()
  requests.add(1, H, [0, 1], 0)
  requests.add(2, H, [1], 0)
  assert.deepEqual(requests.delivered(H, 1), { to: [1, 2], finished: [2], released: [1] })
  assert.deepEqual(requests.delivered(H, 7), { to: [], finished: [], released: [] })
  assert.deepEqual(requests.delivered(H, 0), { to: [1], finished: [1], released: [0] })
  assert.equal(requests.isBusy(H), false)
})

test('no peer has it: unavailable only after the wait, immediately on a joined swarm', () => {
  const requests = createPieceRequests()
  requests.add(1, H, [0, 1, 2], 1500) // fresh join at t=0, peerWaitMs 1500
  const peerHas = (index: number) => index === 1
  assert.deepEqual(requests.sweep(H, 1000, peerHas), { unavailable: [], finished: [], released: [] })
  assert.equal(requests.nextWaitEndMs(H, 1000), 1500)
  assert.deepEqual(requests.sweep(H, 1500, peerHas), { unavailable: [{ requestId: 1, indexes: [0, 2] }], finished: [], released: [0, 2] })
  assert.deepEqual([...requests.wanted(H)], [1])
  // The peer that had piece 1 leaves: the request gives up on it and is finished.
  assert.deepEqual(requests.sweep(H, 1600, () => false), { unavailable: [{ requestId: 1, indexes: [1] }], finished: [1], released: [1] })
  assert.equal(requests.nextWaitEndMs(H, 1600), undefined)
})

test('a piece released by one request stays selected while another wants it', () => {
  const requests = createPieceRequests()
  requests.add(1, H, [3, 4], 0)
  requests.add(2, H, [4], 5000)
  const swept = requests.sweep(H, 100, () => false)
  assert.deepEqual(swept.unavailable, [{ requestId: 1, indexes: [3, 4] }])
  assert.deepEqual(swept.released, [3], 'request 2 still waits for 4')
  assert.deepEqual(requests.cancel(2), { infoHash: H, finished: [], released: [4] })
  assert.deepEqual(requests.cancel(2), { finished: [], released: [] }, 'cancelling twice is harmless')
})

test('swarms are independent; dropping a swarm gives up all its requests', () => {
  const requests = createPieceRequests()
  requests.add(1, H, [0, 1], 0)
  requests.add(2, G, [0], 0)
  requests.delivered(H, 0)
  assert.deepEqual(requests.dropSwarm(H), { unavailable: [{ requestId: 1, indexes: [1] }], finished: [1], released: [1] })
  assert.deepEqual(requests.infoHashes(), [G])
  assert.equal(requests.isBusy(G), true)
})
