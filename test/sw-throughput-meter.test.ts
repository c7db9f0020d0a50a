// The throughput meter (sw/throughput-meter.ts): a source's rate while busy, over a few seconds and over
// about the last one.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createThroughputMeter } from '../sw/throughput-meter.ts'
import { feedMeter } from './sw-fixtures.ts'

const MB = 1_000_000

test('the fallback until 256 KiB has been measured, then the measured rate', () => {
  const clock = { now: 0 }
  const meter = createThroughputMeter(() => clock.now)
  feedMeter(meter, clock, MB, 200) // 200 kB
  assert.equal(meter.rate(7), 7)
  assert.equal(meter.recentRate(7), 7)
  feedMeter(meter, clock, MB, 200)
  assert.ok(Math.abs(meter.rate(7) - MB) < 1, `${meter.rate(7)}`)
  assert.ok(Math.abs(meter.recentRate(7) - MB) < 1, `${meter.recentRate(7)}`)
})

test('idle time does not dilute the rate', () => {
  const clock = { now: 0 }
  const meter = createThroughputMeter(() => clock.now)
  feedMeter(meter, clock, 2 * MB, 1000)
  clock.now += 10_000 // nothing asked of this source for 10 s
  assert.ok(Math.abs(meter.rate(0) - 2 * MB) < 1, `${meter.rate(0)}`)
})

test('the recent rate follows a speed-up sooner than the rate over a few seconds', () => {
  const clock = { now: 0 }
  const meter = createThroughputMeter(() => clock.now)
  feedMeter(meter, clock, MB, 3000) // peers just connected: 1 MB/s
  feedMeter(meter, clock, 2 * MB, 1000) // more of them, windows open: 2 MB/s for the last second
  const rate = meter.rate(0)
  const recent = meter.recentRate(0)
  assert.ok(recent > rate, `recent ${recent} not above ${rate}`)
  assert.ok(recent > 1.55 * MB && recent < 2 * MB, `recent ${recent}`)
  assert.ok(rate < 1.5 * MB, `the few seconds' rate ${rate} followed as fast: nothing to compare`)
})

test('a source that slowed down reads slower in the recent rate too', () => {
  const clock = { now: 0 }
  const meter = createThroughputMeter(() => clock.now)
  feedMeter(meter, clock, 2 * MB, 3000)
  feedMeter(meter, clock, 0.5 * MB, 1000)
  assert.ok(meter.recentRate(0) < meter.rate(0))
})

test('transfers: those begun and not yet ended, each ended once however often its end is called', () => {
  const meter = createThroughputMeter(() => 0)
  const endA = meter.begin()
  const endB = meter.begin()
  assert.equal(meter.transfers(), 2)
  endA()
  endA()
  assert.equal(meter.transfers(), 1)
  endB()
  assert.equal(meter.transfers(), 0)
})
