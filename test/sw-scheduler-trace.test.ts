// The SW's diagnostic timeline keeps the latest entries only, each stamped with its time.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createSchedulerTrace } from '../sw/scheduler-trace.ts'

test('the scheduler trace keeps the latest entries, oldest dropped first', () => {
  let now = 1000
  const trace = createSchedulerTrace(3, () => now++)
  trace.add('request', '/a.jpg')
  trace.add('batch', '/a.jpg', 0, 4)
  trace.add('run', '/a.jpg', 0, 4)
  trace.add('run ended', '/a.jpg', 0, 4)
  assert.deepEqual(trace.entries(), [
    [1001, 'batch', '/a.jpg', 0, 4],
    [1002, 'run', '/a.jpg', 0, 4],
    [1003, 'run ended', '/a.jpg', 0, 4],
  ])
  trace.entries().length = 0
  assert.equal(trace.entries().length, 3, 'entries() is a copy')
})
