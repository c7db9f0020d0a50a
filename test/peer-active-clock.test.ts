import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createActiveClock } from '../peer/active-clock.ts'

test('the active clock leaves out the stretches the event loop was blocked, and only those', () => {
  let t = 1000
  const clock = createActiveClock(250, () => t)
  t += 260 // a tick on time, give or take
  clock.tick()
  assert.equal(clock.now(), 1260)
  t += 3250 // blocked for 3 s: the tick came 3 s late
  clock.tick()
  assert.equal(clock.now(), 4510 - 3000)
  t += 400 // late by less than a tick: jitter, not a block
  clock.tick()
  assert.equal(clock.now(), 4910 - 3000)
})
