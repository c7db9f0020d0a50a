// HTTP's share of a window (sw/source-split.ts): from the split that ends soonest (offloadBias 0) to
// the most offload that is no slower than HTTP alone (1).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { httpShare } from '../sw/source-split.ts'

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`)

test('bias 0: the split that ends soonest, HTTP\'s rate against both', () => {
  close(httpShare(3, 1, 0), 0.75)
  close(httpShare(1, 1, 0), 0.5)
})

test('bias 1: HTTP takes only what peers cannot deliver before HTTP alone would have finished', () => {
  // HTTP alone takes B/3; peers deliver B/3 in that time, so HTTP needs two thirds.
  close(httpShare(3, 1, 1), 2 / 3)
  // Peers as fast as HTTP (or faster) finish the window alone no later than HTTP would.
  close(httpShare(1, 1, 1), 0)
  close(httpShare(1, 4, 1), 0)
})

test('a bias in between moves the finish time that far, so HTTP\'s share moves that far', () => {
  close(httpShare(1, 1, 0.5), 0.25)
  close(httpShare(3, 1, 0.5), (0.75 + 2 / 3) / 2)
  // Out-of-range settings are clamped.
  close(httpShare(1, 1, 7), 0)
  close(httpShare(1, 1, -1), 0.5)
})

test('no measured HTTP rate leaves everything to peers; no peer rate leaves everything to HTTP', () => {
  close(httpShare(0, 1, 0), 0)
  close(httpShare(1, 0, 1), 1)
})
