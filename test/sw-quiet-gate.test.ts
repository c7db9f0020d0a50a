// The quiet gate (sw/quiet-gate.ts): background work waits until nothing has been asked for a while.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createQuietGate } from '../sw/quiet-gate.ts'

test('whenQuiet waits out every touch, and resolves only once the quiet time has passed since the last one', async () => {
  let clock = 0
  const timers: Array<{ at: number; callback: () => void }> = []
  const gate = createQuietGate({ quietMs: 1000, now: () => clock, setTimer: (callback, ms) => timers.push({ at: clock + ms, callback }) })
  assert.equal(gate.isQuiet(), true, 'quiet before anything was asked')
  gate.touch()
  assert.equal(gate.isQuiet(), false)
  let resolved = false
  const quiet = gate.whenQuiet().then(() => (resolved = true))
  const advance = async (to: number) => {
    clock = to
    const due = timers.filter((t) => t.at <= to)
    timers.splice(0, timers.length, ...timers.filter((t) => t.at > to))
    for (const timer of due) timer.callback()
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
  await advance(600)
  gate.touch() // asked again at 600: quiet from 1600
  await advance(1000)
  assert.equal(resolved, false)
  await advance(1600)
  await quiet
  assert.equal(resolved, true)
  assert.equal(gate.isQuiet(), true)
})

test('whenQuiet(maxWaitMs) resolves by the deadline even while the page keeps asking', async () => {
  let clock = 0
  const timers: Array<{ at: number; callback: () => void }> = []
  const gate = createQuietGate({ quietMs: 1000, now: () => clock, setTimer: (callback, ms) => timers.push({ at: clock + ms, callback }) })
  gate.touch()
  let resolved = false
  const quiet = gate.whenQuiet(3000).then(() => (resolved = true))
  for (let t = 500; t <= 3000; t += 500) {
    clock = t
    gate.touch()
    const due = timers.filter((timer) => timer.at <= t)
    timers.splice(0, timers.length, ...timers.filter((timer) => timer.at > t))
    for (const timer of due) timer.callback()
    await new Promise((resolve) => setTimeout(resolve, 0))
    assert.equal(resolved, t >= 3000, `at ${t} ms`)
  }
  await quiet
})
