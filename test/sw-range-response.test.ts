import { test } from 'node:test'
import assert from 'node:assert/strict'
import { planRange, unsatisfiableResponse } from '../sw/range-response.ts'

const LEN = 1000

test('no Range header → whole file', () => {
  assert.deepEqual(planRange(null, LEN), { kind: 'full', start: 0, end: 999 })
})

test('first bytes, middle, open-ended, suffix', () => {
  assert.deepEqual(planRange('bytes=0-0', LEN), { kind: 'partial', start: 0, end: 0 })
  assert.deepEqual(planRange('bytes=0-99', LEN), { kind: 'partial', start: 0, end: 99 })
  assert.deepEqual(planRange('bytes=100-199', LEN), { kind: 'partial', start: 100, end: 199 })
  assert.deepEqual(planRange('bytes=500-', LEN), { kind: 'partial', start: 500, end: 999 })
  assert.deepEqual(planRange('bytes=-100', LEN), { kind: 'partial', start: 900, end: 999 })
})

test('end past the length is clamped; suffix longer than the file is the whole file as 206', () => {
  assert.deepEqual(planRange('bytes=990-5000', LEN), { kind: 'partial', start: 990, end: 999 })
  assert.deepEqual(planRange('bytes=-5000', LEN), { kind: 'partial', start: 0, end: 999 })
})

test('start past the end → 416; zero-length suffix → 416', () => {
  assert.deepEqual(planRange('bytes=1000-', LEN), { kind: 'unsatisfiable' })
  assert.deepEqual(planRange('bytes=1000-1001', LEN), { kind: 'unsatisfiable' })
  assert.deepEqual(planRange('bytes=-0', LEN), { kind: 'unsatisfiable' })
})

test('multiple ranges, other units, malformed and inverted ranges are ignored → 200 whole', () => {
  for (const header of ['bytes=0-1,5-6', 'items=0-5', 'bytes=abc', 'bytes=5-1', 'bytes=-', 'bytes 0-5']) {
    assert.deepEqual(planRange(header, LEN), { kind: 'full', start: 0, end: 999 }, header)
  }
})

test('If-Range: honoured only when it matches the ETag', () => {
  assert.equal(planRange('bytes=0-9', LEN, '"abc"', '"abc"').kind, 'partial')
  assert.equal(planRange('bytes=0-9', LEN, '"old"', '"abc"').kind, 'full')
  assert.equal(planRange('bytes=0-9', LEN, 'Wed, 21 Oct 2015 07:28:00 GMT', '"abc"').kind, 'full')
})

test('416 response carries Content-Range bytes */len', () => {
  const response = unsatisfiableResponse(LEN, '"x"')
  assert.equal(response.status, 416)
  assert.equal(response.headers.get('content-range'), 'bytes */1000')
})
