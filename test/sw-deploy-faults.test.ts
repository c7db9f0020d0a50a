// Responses under deploys and faults: a file changed under an old manifest, a stalled origin body.
// Never a broken or hung response when a clean fallback to the network is still possible.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Manifest } from '../core/manifest-format.ts'
import { createAssetFetcher } from '../sw/asset-fetcher.ts'
import { createSchedulerClock } from '../sw/piece-scheduler.ts'
import { createSlotLimiter } from '../sw/http-slots.ts'
import { verifyPiece } from '../sw/piece-verifier.ts'
import { createAssetStats } from '../sw/asset-stats.ts'
import { createAssetRequestHandler } from '../sw/handle-asset-request.ts'
import { createMemoryPieceStore } from '../sw/piece-store-memory.ts'
import { createWebseedSource } from '../sw/webseed-source.ts'
import { SW_CONFIG_DEFAULTS } from '../sw/config.ts'
import { ORIGIN, PIECE, createFakeOrigin, makeAsset, makeBytes, makeManifest, pieceOf, type FakeOrigin } from './sw-fixtures.ts'

const oldBytes = makeBytes(10 * PIECE + 777, 7)
const newBytes = makeBytes(10 * PIECE + 777, 8) // the deploy changed the file, same name and length
const asset = makeAsset(oldBytes, { path: '/img/photo.jpg', type: 'image/jpeg' })
const URL_ASSET = `${ORIGIN}/img/photo.jpg`

function setup(origin: FakeOrigin, config: Partial<typeof SW_CONFIG_DEFAULTS> = {}) {
  const store = createMemoryPieceStore({ budgetBytes: 1 << 30 })
  const webseed = createWebseedSource({
    fetch: origin.fetch,
    origin: ORIGIN,
    manifest: () => null,
    config: { webseedRetries: 0, webseedRetryBaseMs: 1, webseedResponseTimeoutMs: 0, webseedBodyStallMs: 0 },
    sleep: async () => undefined,
  })
  const fetcher = createAssetFetcher({
    store,
    config: { readAheadBytes: 4 * PIECE, readAheadAloneBytes: 4 * PIECE },
    scheduler: { peers: null, http: webseed, httpSlots: createSlotLimiter(2), verify: verifyPiece, config: SW_CONFIG_DEFAULTS, clock: createSchedulerClock() },
  })
  const manifest: Manifest = makeManifest({ assets: [asset] })
  const fallbacks: string[] = []
  const handle = createAssetRequestHandler({
    manifest: { current: () => manifest, isLoaded: () => true, load: async () => undefined },
    fetcher,
    stats: createAssetStats(),
    // The network as the browser would see it after the deploy: the new file, whole.
    fetch: async () => new Response(newBytes.slice(), { headers: { 'X-Fallback': '1' } }),
    origin: ORIGIN,
    config: { ...SW_CONFIG_DEFAULTS, ...config },
    onFallback: (_request, error) => fallbacks.push(error.code),
  })
  return { handle, store, fallbacks }
}

test('a deploy under an old manifest: stored old pieces + new origin bytes fall back whole, never break part-way', async () => {
  const origin = createFakeOrigin({ [URL_ASSET]: newBytes })
  const { handle, store, fallbacks } = setup(origin)
  // The visitor saw the old file's first pieces before the deploy.
  for (let i = 0; i < 3; i++) await store.put(asset.infoHash, i, pieceOf(oldBytes, asset, i))
  const handled = handle(new Request(URL_ASSET))!
  const response = await handled.response
  const body = new Uint8Array(await response.arrayBuffer()) // before: rejected after 3 pieces
  await handled.done
  assert.equal(response.headers.get('x-fallback'), '1')
  assert.deepEqual(body, newBytes)
  assert.deepEqual(fallbacks, ['piece-hash-mismatch'])
})

test('a stalled origin body before the response starts falls back to the network instead of hanging', { timeout: 20_000 }, async () => {
  const origin = createFakeOrigin({ [URL_ASSET]: oldBytes }, () => ({ kind: 'stall', afterBytes: 1000 }))
  const { handle, fallbacks } = setup(origin, { responseStartTimeoutMs: 300 })
  const handled = handle(new Request(URL_ASSET))!
  const response = await handled.response // before: never settles
  assert.equal(response.headers.get('x-fallback'), '1')
  assert.deepEqual(fallbacks, ['source-timeout'])
})

test('a long streamed response whose origin body stalls mid-way ends with an error, never hangs', { timeout: 20_000 }, async () => {
  const origin = createFakeOrigin({ [URL_ASSET]: oldBytes }, (call) => (call.start >= 4 * PIECE ? { kind: 'stall', afterBytes: 100 } : undefined))
  const { handle } = setup(origin, { wholeResponseMaxBytes: PIECE, pieceStallTimeoutMs: 300 })
  const handled = handle(new Request(URL_ASSET))!
  const response = await handled.response
  assert.equal(response.status, 200)
  await assert.rejects(response.arrayBuffer()) // before: never settles
})
