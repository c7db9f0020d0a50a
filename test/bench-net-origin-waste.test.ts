import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatWaste, originWaste } from '../scripts/bench-net/origin-waste.ts'

const request = (path: string, contentRange: string | null, bytes: number, aborted = false) => ({ path, contentRange, bytes, aborted })

test('origin waste: bytes of a file sent again count, disjoint ranges and other files do not', () => {
  const waste = originWaste([
    request('/a.webm', 'bytes 0-99/1000', 100),
    request('/a.webm', 'bytes 100-199/1000', 60, true), // aborted after 60 bytes: 100-159 sent
    request('/a.webm', 'bytes 100-199/1000', 100), // asked again: 60 bytes twice
    request('/a.webm', 'bytes 50-149/1000', 100), // all of it sent before
    request('/b.jpg', null, 500), // a whole-file 200
    request('/b.jpg', 'bytes 400-499/500', 100),
  ])
  assert.deepEqual(waste.byPath['/a.webm'], { requests: 4, aborted: 1, bytes: 360, wastedBytes: 160 })
  assert.deepEqual(waste.byPath['/b.jpg'], { requests: 2, aborted: 0, bytes: 600, wastedBytes: 100 })
  assert.equal(waste.wastedBytes, 260)
  assert.equal(waste.requests, 6)
  assert.match(formatWaste(waste), /origin requests 6, aborted 1, wasted 0\.00 MB \(a\.webm/)
})
