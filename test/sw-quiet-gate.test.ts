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
