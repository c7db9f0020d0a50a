// Flow control between two peers (peer-wire.ts v2): the receiver's credit window (flow-window.ts) grows
// while the transfer builds no queue and shrinks when it does; the sender (send-credit.ts) never has
// more payload out than the receiver allowed; the wire carries credit/ping/pong and rejects bad ones.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createFlowWindow, FLOW_WINDOW_DEFAULTS } from '../peer/flow-window.ts'
import { createSendCredit } from '../peer/send-credit.ts'
import { decodeControl, encodeControl, CHUNK_BYTES, INITIAL_CREDIT_BYTES } from '../peer/peer-wire.ts'

test('the window grows while the path builds no queue and the window is used', () => {
  const window = createFlowWindow()
  const start = window.bytes()
  assert.equal(start, FLOW_WINDOW_DEFAULTS.initialBytes)
  let last = start
  for (let i = 0; i < 10; i++) {
    window.onBytes(window.bytes()) // the whole window arrived since the last sample
    window.onDelay(1000 + (i % 2)) // clock offset 1000 ms, no queue (1 ms jitter)
    assert.ok(window.bytes() > last, `sample ${i}: ${window.bytes()} > ${last}`)
    last = window.bytes()
  }
  assert.ok(last > 10 * start, `slow start multiplies the window: ${last}`)
})

test('slow start ends at the first sample that shows a queue, before the smallest of the last few does', () => {
  const window = createFlowWindow() // target 25 ms: slow start ends above 12.5 ms of queue
  window.onBytes(window.bytes())
  window.onDelay(100) // base 100 ms
  const grown = window.bytes()
  // A 15 ms queue in the latest sample only: the recent minimum still reads none. Slow start would
  // grow 1.5× a sample; the steady pace is at most 1.125×.
  window.onBytes(grown)
  window.onDelay(100 + 15)
  assert.ok(window.bytes() <= Math.floor(grown * 1.125), `${window.bytes()} ≤ 1.125 × ${grown}`)
  // And it stays ended: a sample without queue grows the window at the steady pace too.
  const next = window.bytes()
  window.onBytes(next)
  window.onDelay(100)
  assert.ok(window.bytes() > next && window.bytes() <= Math.floor(next * 1.125), `${window.bytes()}`)
})

test('an unused window does not grow (a receiver asking little says nothing about the path)', () => {
  const window = createFlowWindow()
  for (let i = 0; i < 5; i++) {
    window.onBytes(1024)
    window.onDelay(500)
  }
  assert.equal(window.bytes(), FLOW_WINDOW_DEFAULTS.initialBytes)
})

test('the window shrinks when a queue lasts past the target, down to the minimum, and grows slowly after', () => {
  const window = createFlowWindow({ targetQueueMs: 20 })
  window.onBytes(window.bytes())
  window.onDelay(100) // base 100 ms
  const grown = window.bytes()
  // One late sample (a busy event loop) is no queue...
  window.onBytes(grown)
  window.onDelay(100 + 35)
  assert.ok(window.bytes() >= grown, 'window.bytes() >= grown')
  // ...a queue that lasts over the recent samples is.
  const beforeQueue = window.bytes()
  for (let i = 0; i < 3; i++) window.onDelay(100 + 35)
  assert.ok(window.bytes() < beforeQueue, `${window.bytes()} < ${beforeQueue}`)
  for (let i = 0; i < 50; i++) window.onDelay(100 + 60)
  assert.equal(window.bytes(), FLOW_WINDOW_DEFAULTS.minBytes)
  // Once the queue is gone (all recent samples low), out of slow start: gentle growth (≤ 1.125× a
  // sample), and none at the target.
  for (let i = 0; i < 4; i++) window.onDelay(100)
  const low = window.bytes()
  window.onBytes(low)
  window.onDelay(100)
  assert.ok(window.bytes() > low && window.bytes() <= Math.floor(low * 1.125), `${window.bytes()}`)
  for (let i = 0; i < 4; i++) window.onDelay(100 + 20)
  const before = window.bytes()
  window.onBytes(before)
  window.onDelay(100 + 20)
  assert.equal(window.bytes(), before)
})

test('the base delay is the smallest sample: a queue present from the start is not taken for the path', () => {
  const window = createFlowWindow()
  window.onDelay(250)
  window.onDelay(210)
  assert.equal(window.baseDelayMs(), 210)
  for (let i = 0; i < 4; i++) window.onDelay(260) // 50 ms above the base, lasting
  window.onBytes(window.bytes())
  const before = window.bytes()
  window.onDelay(260)
  assert.ok(window.bytes() < before, 'window.bytes() < before')
})

test('the window stays within its bounds', () => {
  const window = createFlowWindow({ maxBytes: 200_000 })
  for (let i = 0; i < 40; i++) {
    window.onBytes(10_000_000)
    window.onDelay(0)
  }
  assert.equal(window.bytes(), 200_000)
  assert.equal(window.onDelay(Number.NaN), false)
})

test('a sender never has more out than the credit allows, and resumes in order as credit comes', async () => {
  const credit = createSendCredit(INITIAL_CREDIT_BYTES)
  const order: number[] = []
  const takes = Array.from({ length: 8 }, (_, i) => credit.take(CHUNK_BYTES).then(() => order.push(i)))
  await Promise.resolve()
  await Promise.resolve()
  assert.deepEqual(order, [0, 1, 2, 3]) // 4 × 16 KiB = the initial 64 KiB
  assert.equal(credit.sent(), INITIAL_CREDIT_BYTES)
  credit.allow(INITIAL_CREDIT_BYTES - 1) // lower than before: ignored
  credit.allow(INITIAL_CREDIT_BYTES + CHUNK_BYTES + 1)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(order, [0, 1, 2, 3, 4])
  credit.close() // connection gone: everyone waiting wakes (and finds the link closed)
  await Promise.all(takes)
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7])
})

test('a version-1 peer gets an unlimited gate', async () => {
  const credit = createSendCredit(Number.POSITIVE_INFINITY)
  await Promise.all(Array.from({ length: 100 }, () => credit.take(CHUNK_BYTES)))
  assert.equal(credit.sent(), 100 * CHUNK_BYTES)
})

test('the wire carries credit, ping and pong, and refuses malformed ones', () => {
  for (const message of [{ t: 'credit', b: 123_456 }, { t: 'ping', n: 7 }, { t: 'pong', n: 7, ts: 1234.5 }] as const) {
    assert.deepEqual(decodeControl(encodeControl(message)), message)
  }
  for (const text of ['{"t":"credit","b":-1}', '{"t":"credit","b":1.5}', '{"t":"credit"}', '{"t":"ping","n":-3}', '{"t":"pong","n":1}', '{"t":"pong","n":1,"ts":"x"}']) {
    assert.equal(decodeControl(text), null, text)
  }
})

test('stall rule: a request behind others waits for the bytes ahead at the measured rate, then for progress', async () => {
  const { isStalled } = await import('../peer/stall-rule.ts')
  const base = { startedMs: 0, lastProgressMs: 0, receivedBytes: 0, stallMs: 1500 }
  // 2 MB ahead at 1 MB/s: its turn comes after ~2 s; it may wait 1.5 s + 2 × 2 s.
  assert.equal(isStalled({ ...base, nowMs: 5000, bytesAheadOfIt: 2_000_000, peerBytesPerSec: 1_000_000 }), false)
  assert.equal(isStalled({ ...base, nowMs: 5600, bytesAheadOfIt: 2_000_000, peerBytesPerSec: 1_000_000 }), true)
  // The same queue at a peer measured 10× slower may wait 10× longer.
  assert.equal(isStalled({ ...base, nowMs: 20_000, bytesAheadOfIt: 2_000_000, peerBytesPerSec: 100_000 }), false)
  // First in line: no byte for stallMs is a stall; a byte within it is progress.
  assert.equal(isStalled({ ...base, nowMs: 1600, bytesAheadOfIt: 0, peerBytesPerSec: 1_000_000 }), true)
  assert.equal(isStalled({ ...base, nowMs: 1600, lastProgressMs: 200, receivedBytes: 16384, bytesAheadOfIt: 0, peerBytesPerSec: 1_000_000 }), false)
})
