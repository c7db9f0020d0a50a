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
  const ask = (key: string, bytesLeft?: number) => void slots.acquire(key, bytesLeft).then((release) => {
    granted.push(key)
    releases.set(key, [...(releases.get(key) ?? []), release])
  })
  const release = (key: string) => releases.get(key)!.shift()!()
  /** Frees one of the key's slots; resolves with who got slots from it. */
  const free = async (key: string) => {
    const before = granted.length
    release(key)
    await settle()
    return granted.slice(before)
  }
  return { ask, free, granted }
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
  const { ask, free, granted } = recorder(3)
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
  assert.deepEqual(await free('download'), ['film'], 'film and dataset hold none, the photo two: the film asked first')
  assert.deepEqual(await free('photo'), ['dataset'], 'the dataset holds none, the photo one')
  assert.deepEqual(await free('film'), ['photo'])
})

test('among assets holding as many slots, the one with the most bytes left goes first', async () => {
  const { ask, free } = recorder(4)
  for (const key of ['photo', 'download', 'film', 'spare']) ask(key, 1_000_000)
  await settle()
  ask('photo', 500_000)
  ask('download', 1_900_000)
  ask('film', 9_700_000)
  assert.deepEqual(await free('spare'), ['film'], 'each holds one: the film\'s 9.7 MB before the photo that asked first')
  assert.deepEqual(await free('photo'), ['photo'], 'the photo now holds none: fewest held still comes first')
  assert.deepEqual(await free('film'), ['download'])
})

test('an asset\'s own waiters keep their order: its head before its larger rest', async () => {
  const slots = createSlotLimiter(1)
  const spare = await slots.acquire('spare')
  const granted: string[] = []
  const ask = (name: string, key: string, bytesLeft: number) => slots.acquire(key, bytesLeft).then((release) => (granted.push(name), release))
  const photo = ask('photo', 'photo', 2_000_000)
  const filmHead = ask('film head', 'film', 1_000_000)
  const filmRest = ask('film rest', 'film', 9_000_000)
  spare()
  ;(await filmHead)()
  ;(await filmRest)()
  await photo
  assert.deepEqual(granted, ['film head', 'film rest', 'photo'], 'the film (10 MB left, then 9) before the photo (2 MB), its head first')
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
