import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Manifest } from '../core/manifest-format.ts'
import { createMemoryKeyValueStore } from '../sw/key-value-store.ts'
import { createEd25519Verifier, createManifestTrust } from '../sw/manifest-trust.ts'
import { readBootConfig } from '../sw/boot-config.ts'
import { makeAsset, makeBytes, makeKeys, makeManifest, signManifest } from './sw-fixtures.ts'

const keys = makeKeys()
const otherKeys = makeKeys()
const T0 = Date.parse('2030-01-01T00:00:00Z')
const MANIFEST_URL = 'https://site.example/swarmcdn/manifest.json'
const asset = makeAsset(makeBytes(40_000), { path: '/img/big.jpg', type: 'image/jpeg' })

function manifest(overrides: Partial<Manifest> = {}): Manifest {
  return makeManifest({ assets: [asset], ...overrides }, T0)
}

/** A manifest server whose answer the test changes; and a clock. */
function setup(initialText: string | null, kv = createMemoryKeyValueStore()) {
  const server = { text: initialText as string | null, status: 200, fetches: 0, lastInit: undefined as RequestInit | undefined }
  const clock = { now: T0 }
  const trust = createManifestTrust({
    fetch: async (url, init) => {
      assert.equal(url, MANIFEST_URL)
      server.fetches++
      server.lastInit = init
      if (server.text === null) throw new TypeError('offline')
      return new Response(server.text, { status: server.status })
    },
    manifestUrl: MANIFEST_URL,
    verifySignature: createEd25519Verifier(keys.publicKeyRaw),
    kv,
    now: () => clock.now,
    refreshIntervalMs: 60_000,
  })
  return { trust, server, clock, kv }
}

/** Flips one character of the signed manifest text inside the envelope (signature no longer matches). */
function tamper(envelopeText: string): string {
  const envelope = JSON.parse(envelopeText)
  envelope.manifest = envelope.manifest.replace('"sequence":', '"sequence":1')
  return JSON.stringify(envelope)
}

test('a valid signed manifest is accepted and fetched with cache: no-store', async () => {
  const { trust, server } = setup(signManifest(manifest(), keys))
  const state = await trust.load()
  assert.equal(state.status, 'active')
  assert.equal(trust.current()?.assets[0].path, '/img/big.jpg')
  assert.equal(server.lastInit?.cache, 'no-store')
})

test('tampered manifest text → refused (signature), nothing trusted', async () => {
  const { trust } = setup(tamper(signManifest(manifest(), keys)))
  assert.equal((await trust.load()).status, 'none')
  const outcome = await trust.refresh()
  assert.equal(outcome.accepted, false)
  assert.equal(outcome.error?.code, 'manifest-signature-invalid')
  assert.equal(trust.current(), null)
})

test('signed by another key → refused', async () => {
  const { trust } = setup(signManifest(manifest(), otherKeys))
  await trust.load()
  assert.equal((await trust.refresh()).error?.code, 'manifest-signature-invalid')
})

test('expired → refused', async () => {
  const expired = manifest({ issuedAt: new Date(T0 - 10 * 86_400_000).toISOString(), expiresAt: new Date(T0 - 1000).toISOString() })
  const { trust } = setup(signManifest(expired, keys))
  await trust.load()
  assert.equal((await trust.refresh()).error?.code, 'manifest-expired')
  assert.equal(trust.current(), null)
})

test('rollback: an older sequence is refused, the newer one stays', async () => {
  const { trust, server } = setup(signManifest(manifest({ sequence: 20 }), keys))
  await trust.load()
  server.text = signManifest(manifest({ sequence: 19 }), keys)
  const outcome = await trust.refresh()
  assert.equal(outcome.error?.code, 'manifest-rollback')
  assert.equal(trust.current()?.sequence, 20)
  server.text = signManifest(manifest({ sequence: 21 }), keys)
  assert.equal((await trust.refresh()).accepted, true)
  assert.equal(trust.current()?.sequence, 21)
})

test('rollback protection survives a restart (highest sequence persisted)', async () => {
  const kv = createMemoryKeyValueStore()
  const first = setup(signManifest(manifest({ sequence: 30 }), keys), kv)
  await first.trust.load()
  // A new SW instance, whose network now serves an older (validly signed) manifest.
  const second = setup(signManifest(manifest({ sequence: 29 }), keys), kv)
  assert.equal((await second.trust.load()).status, 'active')
  assert.equal(second.trust.current()?.sequence, 30) // restored from the store, re-verified
  assert.equal((await second.trust.refresh()).error?.code, 'manifest-rollback')
  assert.equal(second.trust.current()?.sequence, 30)
})

test('last good kept when a newer fetch is bad (tampered, 500, offline, garbage), until it expires', async () => {
  const { trust, server, clock } = setup(signManifest(manifest({ sequence: 5 }), keys))
  await trust.load()
  server.text = tamper(signManifest(manifest({ sequence: 6 }), keys))
  assert.equal((await trust.refresh()).accepted, false)
  assert.equal(trust.current()?.sequence, 5)
  server.text = 'not json'
  assert.equal((await trust.refresh()).error?.code, 'manifest-envelope-invalid')
  server.status = 500
  assert.equal((await trust.refresh()).error?.code, 'manifest-fetch-failed')
  server.text = null
  assert.equal((await trust.refresh()).error?.code, 'manifest-fetch-failed')
  assert.equal(trust.current()?.sequence, 5)
  clock.now = Date.parse(manifest().expiresAt) + 1
  assert.equal(trust.current(), null, 'an expired last-good manifest is dropped: the SW steps aside')
  assert.equal(trust.state().status, 'none')
})

test('a tampered stored copy is not trusted on restart', async () => {
  const kv = createMemoryKeyValueStore()
  const first = setup(signManifest(manifest({ sequence: 40 }), keys), kv)
  await first.trust.load()
  kv.data.set('manifest.lastGoodEnvelope', tamper(kv.data.get('manifest.lastGoodEnvelope')!))
  const second = setup(null, kv)
  assert.equal((await second.trust.load()).status, 'none')
})

test('kill switch: a verified kill manifest → killed, routes nothing; an unsigned one does nothing', async () => {
  const { trust, server } = setup(signManifest(manifest({ sequence: 50 }), keys))
  await trust.load()
  server.text = tamper(signManifest(manifest({ sequence: 51, killSwitch: true }), keys))
  await trust.refresh()
  assert.equal(trust.state().status, 'active')
  server.text = signManifest(manifest({ sequence: 51, killSwitch: true }), keys)
  const outcome = await trust.refresh()
  assert.equal(outcome.state.status, 'killed')
  assert.equal(trust.current(), null)
})

test('refreshIfStale: lazy, at most once per interval, shared while in flight, interval persisted', async () => {
  const kv = createMemoryKeyValueStore()
  const { trust, server, clock } = setup(signManifest(manifest(), keys), kv)
  await trust.load()
  assert.equal(server.fetches, 1)
  assert.equal(trust.refreshIfStale(), null)
  clock.now += 59_000
  assert.equal(trust.refreshIfStale(), null)
  clock.now += 2_000
  const a = trust.refreshIfStale()
  const b = trust.refreshIfStale()
  assert.ok(a && a === b, 'a && a === b')
  await a
  assert.equal(server.fetches, 2)
  // A restarted SW within the interval restores and does not fetch.
  const restarted = setup(signManifest(manifest(), keys), kv)
  restarted.clock.now = clock.now + 1000
  await restarted.trust.load()
  assert.equal(restarted.server.fetches, 0)
  assert.equal(restarted.trust.current()?.sequence, 10)
})

test('boot config: a 32-byte base64 key is read; anything else is refused', () => {
  assert.deepEqual(readBootConfig({ publicKey: keys.publicKeyBase64 })?.publicKey, keys.publicKeyRaw)
  assert.equal(readBootConfig(undefined), null)
  assert.equal(readBootConfig({ publicKey: 'AAAA' }), null)
  assert.equal(readBootConfig({ publicKey: 42 }), null)
})
