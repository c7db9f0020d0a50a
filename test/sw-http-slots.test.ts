// The worker's HTTP slots (sw/http-slots.ts): a limit across every response, fair by asset.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createSlotLimiter } from '../sw/http-slots.ts'

const settle = () => new Promise((resolve) => setImmediate(resolve))

/** Asks for slots in order and records which keys got one. */
function recorder(limit: number) {
  const slots = createSlotLimiter(limit)
  const granted: string[] = []
  const releases = new Map<string, Array<() => void>>()
  const ask = (key: string) => void slots.acquire(key).then((release) => {
    granted.push(key)
    releases.set(key, [...(releases.get(key) ?? []), release])
  })
  const release = (key: string) => releases.get(key)!.shift()!()
  return { ask, release, granted }
}

test('waiters that arrive together share the slots by asset: the film gets one before a photo gets a second', async () => {
  const { ask, granted } = recorder(2)
  ask('photo')
  ask('photo')
  ask('film')
  await settle()
  assert.deepEqual(granted, ['photo', 'film'])
})

test('a freed slot goes to the asset holding the fewest, first come among equals', async () => {
  const { ask, release, granted } = recorder(3)
  ask('photo')
  await settle()
  ask('photo')
  ask('download')
  await settle()
  ask('photo')
  ask('film')
  ask('dataset')
  await settle()
  assert.deepEqual(granted, ['photo', 'download', 'photo'], 'the download before the photo\'s second; then no slot free')
  release('download')
  await settle()
  assert.deepEqual(granted.slice(3), ['film'], 'film and dataset hold none, the photo two: the film asked first')
  release('photo')
  await settle()
  assert.deepEqual(granted.slice(4), ['dataset'], 'the dataset holds none, the photo one')
  release('film')
  await settle()
  assert.deepEqual(granted.slice(5), ['photo'])
})

test('never more than the limit in flight, and a release called twice frees one slot', async () => {
  const slots = createSlotLimiter(1)
  const first = await slots.acquire('a')
  let second = false
  void slots.acquire('b').then(() => (second = true))
  await settle()
  assert.equal(second, false)
  first()
  first()
  await settle()
  assert.equal(second, true)
  let third = false
  void slots.acquire('c').then(() => (third = true))
  await settle()
  assert.equal(third, false, 'the double release did not open a second slot')
})
