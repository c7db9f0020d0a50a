// Storing what went to a page untouched (sw/deferred-store.ts): after quiet, one asset at a time,
// once per asset however many responses asked, the copy made only once it is wholly stored.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ManifestAsset } from '../core/manifest-format.ts'
import { createDeferredStore } from '../sw/deferred-store.ts'
import { makeAsset, makeBytes } from './sw-fixtures.ts'

const photo = makeAsset(makeBytes(300_000, 1), { path: '/a.jpg', type: 'image/jpeg' })
const film = makeAsset(makeBytes(500_000, 2), { path: '/b.webm', type: 'video/webm' })

function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

test('waits for quiet, stores one asset at a time, once per asset, then makes its copy; a skipped one gets no copy', async () => {
  const quiet = deferred()
  const waits: number[] = []
  const log: string[] = []
  const adopting = new Map<string, ReturnType<typeof deferred<'adopted' | 'skipped' | 'complete-before'>>>()
  const storeLater = createDeferredStore({
    gate: { whenQuiet: (maxWaitMs) => (waits.push(maxWaitMs ?? Infinity), quiet.promise) },
    adopt: (asset: ManifestAsset) => {
      log.push(`adopt ${asset.path}`)
      const step = deferred<'adopted' | 'skipped' | 'complete-before'>()
      adopting.set(asset.path, step)
      return step.promise
    },
    afterStored: async (asset) => void log.push(`copy ${asset.path}`),
    onSkipped: (asset) => log.push(`skipped ${asset.path}`),
    maxWaitMs: 3000,
    now: () => 0,
  })
  const first = storeLater(photo)
  assert.equal(storeLater(photo), first, 'a second response for the same asset joins the first')
  const second = storeLater(film)
  await new Promise((resolve) => setTimeout(resolve, 0))
  assert.deepEqual(log, [], 'nothing before the pages are quiet')
  quiet.resolve()
  await new Promise((resolve) => setTimeout(resolve, 0))
  assert.deepEqual(log, ['adopt /a.jpg'], 'one at a time')
  adopting.get('/a.jpg')!.resolve('adopted')
  await first
  await new Promise((resolve) => setTimeout(resolve, 0))
  assert.deepEqual(log, ['adopt /a.jpg', 'copy /a.jpg', 'adopt /b.webm'])
  adopting.get('/b.webm')!.resolve('skipped')
  await second
  assert.deepEqual(log, ['adopt /a.jpg', 'copy /a.jpg', 'adopt /b.webm', 'skipped /b.webm'])
  assert.deepEqual(waits, [3000, 3000], 'each waits at most maxWaitMs from its request')
  // Done with an asset: a later response for it stores it again (the store skips what it holds).
  const again = storeLater(photo)
  assert.notEqual(again, first)
  adopting.clear()
  await new Promise((resolve) => setTimeout(resolve, 0))
  adopting.get('/a.jpg')!.resolve('complete-before')
  await again
  assert.equal(log.at(-1), 'copy /a.jpg')
})

test('a failing adopt ends quietly and lets the next asset go', async () => {
  const log: string[] = []
  const storeLater = createDeferredStore({
    gate: { whenQuiet: async () => undefined },
    adopt: async (asset) => {
      if (asset === photo) throw new Error('disk')
      log.push(`adopt ${asset.path}`)
      return 'adopted'
    },
  })
  await storeLater(photo)
  await storeLater(film)
  assert.deepEqual(log, ['adopt /b.webm'])
})

test('a store that takes too long (an HTTP cache read that hangs) is given up: its read is aborted, the next asset goes, and the missed asset is marked until stored', async () => {
  const log: string[] = []
  const timers: Array<() => void> = []
  let hungSignal: AbortSignal | undefined
  let photoTries = 0
  const storeLater = createDeferredStore({
    gate: { whenQuiet: async () => undefined },
    adopt: (asset, signal) => {
      if (asset === photo && photoTries++ === 0) {
        hungSignal = signal
        return new Promise(() => undefined) // never settles
      }
      log.push(`adopt ${asset.path}`)
      return Promise.resolve('adopted')
    },
    onSkipped: (asset) => log.push(`skipped ${asset.path}`),
    adoptTimeoutMs: 5000,
    setTimer: (callback) => (timers.push(callback), () => undefined),
  })
  const first = storeLater(photo)
  const second = storeLater(film)
  await new Promise((resolve) => setTimeout(resolve, 0))
  assert.deepEqual(log, [], 'the photo is being read')
  assert.equal(storeLater.missed(photo), false, 'not missed while it is tried')
  timers.shift()!() // the photo's time is up
  await first
  await second
  assert.equal(hungSignal?.aborted, true, 'the hung read was told to stop')
  assert.deepEqual(log, ['skipped /a.jpg', 'adopt /b.webm'], 'the queue went on')
  assert.equal(storeLater.missed(photo), true)
  assert.equal(storeLater.missed(film), false)
  await storeLater(photo)
  assert.equal(storeLater.missed(photo), false, 'stored at last: no longer marked')
})
