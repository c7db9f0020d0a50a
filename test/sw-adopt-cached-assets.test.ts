// Adopting a first page's assets from the HTTP cache: only cached bytes, only verified pieces.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { adoptCachedAsset, adoptCachedAssets } from '../sw/adopt-cached-assets.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { ORIGIN, PIECE, makeAsset, makeBytes, makeManifest, pieceOf } from './sw-fixtures.ts'

const bytes = makeBytes(5 * PIECE + 123, 7)
const asset = makeAsset(bytes, { path: '/media/hero.jpg' })
const other = makeAsset(makeBytes(2 * PIECE, 9), { path: '/media/other.jpg' })
const manifest = makeManifest({ assets: [asset, other] })

function fakeCache(entries: Record<string, Uint8Array>) {
  const asked: Array<{ url: string; cache?: RequestCache }> = []
  const fetch = async (url: string, init: RequestInit) => {
    asked.push({ url, cache: init.cache })
    const body = entries[url]
    // What the platform does for only-if-cached misses.
    return body ? new Response(body.slice()) : new Response(null, { status: 504 })
  }
  return { fetch, asked }
}

test('cached asset bytes are verified and stored, asking the HTTP cache only', async () => {
  const store = createMemoryPieceStore({ budgetBytes: 1 << 24 })
  const cache = fakeCache({ [`${ORIGIN}/media/hero.jpg`]: bytes })
  const result = await adoptCachedAssets([`${ORIGIN}/media/hero.jpg`, `${ORIGIN}/media/other.jpg`, `${ORIGIN}/style.css`], {
    manifest: () => manifest, store, fetch: cache.fetch, origin: ORIGIN,
  })
  assert.deepEqual(result, { adopted: ['/media/hero.jpg'], skipped: ['/media/other.jpg'] })
  assert.ok(cache.asked.every((a) => a.cache === 'only-if-cached'), 'asked the network, not just the cache')
  assert.equal(cache.asked.some((a) => a.url.endsWith('style.css')), false, 'fetched a non-asset')
  for (let i = 0; i < 6; i++) assert.deepEqual(await store.get(asset.infoHash, i), pieceOf(bytes, asset, i))
})

test('altered cached bytes are never stored; stored assets are not fetched again', async () => {
  const store = createMemoryPieceStore({ budgetBytes: 1 << 24 })
  const altered = bytes.slice()
  altered[PIECE + 5]! ^= 0xff
  const cache = fakeCache({ [`${ORIGIN}/media/hero.jpg`]: altered })
  const result = await adoptCachedAssets([`${ORIGIN}/media/hero.jpg`], { manifest: () => manifest, store, fetch: cache.fetch, origin: ORIGIN })
  assert.deepEqual(result.skipped, ['/media/hero.jpg'])
  assert.equal(await store.has(asset.infoHash, 1), false, 'a bad piece was stored')
  assert.equal(await store.has(asset.infoHash, 0), true, 'good pieces of the same file are kept')

  for (let i = 0; i < 6; i++) await store.put(asset.infoHash, i, pieceOf(bytes, asset, i))
  const again = fakeCache({})
  await adoptCachedAssets([`${ORIGIN}/media/hero.jpg`], { manifest: () => manifest, store, fetch: again.fetch, origin: ORIGIN })
  assert.equal(again.asked.length, 0)
})

test('a cache read that never ends is given up after readTimeoutMs: nothing stored, the asset counts as skipped', async () => {
  const store = createMemoryPieceStore({ budgetBytes: 1 << 24 })
  let aborted = false
  const hang = (_url: string, init: RequestInit) =>
    new Promise<Response>((_resolve, reject) => init.signal?.addEventListener('abort', () => ((aborted = true), reject(new DOMException('aborted', 'AbortError')))))
  const outcome = await adoptCachedAsset(asset, { store, fetch: hang, origin: ORIGIN, readTimeoutMs: 50 })
  assert.equal(outcome, 'skipped')
  assert.equal(aborted, true, 'the read was aborted, not left running')
  assert.equal(await store.has(asset.infoHash, 0), false)
})
