// The service worker's trust state under faults and abuse, on IndexedDB (fake-indexeddb) as in the SW:
// the kill switch round trip, two deployments on one origin, forged state, key rotation, and the
// conditional revalidation a page load makes.

import 'fake-indexeddb/auto'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Manifest } from '../core/manifest-format.ts'
import { createIdbKeyValueStore } from '../sw/key-value-idb.ts'
import type { KeyValueStore } from '../sw/key-value-store.ts'
import { createEd25519Verifier, createManifestTrust } from '../sw/manifest-trust.ts'
import { LEGACY_TRUST_STATE_KEYS, trustStateKeys } from '../sw/trust-state-keys.ts'
import { makeAsset, makeBytes, makeKeys, makeManifest, signManifest, type TestKeys } from './sw-fixtures.ts'

const T0 = Date.parse('2030-01-01T00:00:00Z')
const asset = makeAsset(makeBytes(40_000), { path: '/img/big.jpg', type: 'image/jpeg' })
let dbCounter = 0

function manifest(overrides: Partial<Manifest> = {}): Manifest {
  return makeManifest({ assets: [asset], ...overrides }, T0)
}

/** One origin's manifest server, shared by every SW instance of a test. */
function origin() {
  return { text: null as string | null, etag: null as string | null, fetches: 0, conditional: 0 }
}

/** A service worker instance: the real IDB key-value store, a deployment's scope and key. */
function worker(server: ReturnType<typeof origin>, kv: KeyValueStore, keys: TestKeys, scope = '/', options: { legacyKeys?: boolean } = {}) {
  const clock = { now: T0 }
  const trust = createManifestTrust({
    fetch: async (_url, init) => {
      server.fetches++
      const ifNoneMatch = new Headers(init.headers).get('if-none-match')
      if (ifNoneMatch) server.conditional++
      if (server.text === null) throw new TypeError('offline')
      if (ifNoneMatch && ifNoneMatch === server.etag) return new Response(null, { status: 304 })
      return new Response(server.text, { headers: server.etag ? { ETag: server.etag } : {} })
    },
    manifestUrl: `https://site.example${scope}swarmcdn/manifest.json`,
    verifySignature: createEd25519Verifier(keys.publicKeyRaw),
    kv,
    now: () => clock.now,
    refreshIntervalMs: 5 * 60_000,
    ...(options.legacyKeys ? {} : { stateKeys: trustStateKeys(scope, keys.publicKeyBase64), scope }),
  })
  return { trust, clock }
}

const freshDb = () => createIdbKeyValueStore(`swarmcdn-sw-state-test-${dbCounter++}`)

test('kill switch round trip: a newer signed manifest lifts a stored kill switch on the next start', async () => {
  const keys = makeKeys()
  const kv = freshDb()
  const server = origin()
  server.text = signManifest(manifest({ sequence: 10 }), keys)
  const first = worker(server, kv, keys)
  assert.equal((await first.trust.load()).status, 'active')
  server.text = signManifest(manifest({ sequence: 11, killSwitch: true }), keys)
  assert.equal((await first.trust.refresh()).state.status, 'killed')
  // The SW unregistered; swarmcdn.js installs it again later. The kill is still on the network:
  const stillKilled = worker(server, kv, keys)
  assert.equal((await stillKilled.trust.load()).status, 'killed')
  // The owner lifts it with a newer build.
  server.text = signManifest(manifest({ sequence: 12 }), keys)
  const lifted = worker(server, kv, keys)
  const state = await lifted.trust.load()
  assert.equal(state.status, 'active')
  assert.equal(lifted.trust.current()?.sequence, 12)
  // An unsigned "lift" does nothing.
  const kv2 = freshDb()
  server.text = signManifest(manifest({ sequence: 20, killSwitch: true }), keys)
  await worker(server, kv2, keys).trust.load()
  server.text = signManifest(manifest({ sequence: 21 }), makeKeys())
  assert.equal((await worker(server, kv2, keys).trust.load()).status, 'killed')
})

test('two deployments on one origin keep their own state: one\'s sequence is not the other\'s rollback', async () => {
  const keysA = makeKeys()
  const keysB = makeKeys()
  const kv = freshDb() // one origin, one database
  const serverA = origin()
  const serverB = origin()
  serverA.text = signManifest(manifest({ scope: '/a/', sequence: 1_700_000_000, assets: [] }), keysA)
  serverB.text = signManifest(manifest({ scope: '/b/', sequence: 50, assets: [] }), keysB)
  assert.equal((await worker(serverA, kv, keysA, '/a/').trust.load()).status, 'active')
  assert.equal((await worker(serverB, kv, keysB, '/b/').trust.load()).status, 'active')
  // Restarted, each still has its own manifest and floor.
  const a = worker(serverA, kv, keysA, '/a/')
  const b = worker(serverB, kv, keysB, '/b/')
  await a.trust.load()
  await b.trust.load()
  assert.equal(a.trust.current()?.sequence, 1_700_000_000)
  assert.equal(b.trust.current()?.sequence, 50)
  serverB.text = signManifest(manifest({ scope: '/b/', sequence: 49, assets: [] }), keysB)
  assert.equal((await b.trust.refresh()).error?.code, 'manifest-rollback', 'rollback protection per deployment still holds')
})

test('forged state: a check time in the future counts as stale, a bare huge sequence blocks nothing', async () => {
  const keys = makeKeys()
  const kv = freshDb()
  const server = origin()
  server.text = signManifest(manifest({ sequence: 10 }), keys)
  const stateKeys = trustStateKeys('/', keys.publicKeyBase64)
  await worker(server, kv, keys).trust.load()
  // Any script of the origin can write IndexedDB.
  await kv.set(stateKeys.lastCheck, String(T0 + 10 * 365 * 86_400_000))
  await kv.set('manifest.highestSequence', String(Number.MAX_SAFE_INTEGER))
  server.text = signManifest(manifest({ sequence: 11 }), keys)
  const next = worker(server, kv, keys)
  await next.trust.load()
  next.clock.now += 1000
  const refresh = next.trust.refreshIfStale()
  assert.ok(refresh, 'a check "in the future" does not disable refresh')
  assert.equal((await refresh).accepted, true)
  assert.equal(next.trust.current()?.sequence, 11)
  // Same on the legacy (single-deployment) names.
  const legacyKv = freshDb()
  await legacyKv.set(LEGACY_TRUST_STATE_KEYS.lastCheck, String(T0 + 1e12))
  await legacyKv.set('manifest.highestSequence', String(Number.MAX_SAFE_INTEGER))
  const legacy = worker(server, legacyKv, keys, '/', { legacyKeys: true })
  assert.equal((await legacy.trust.load()).status, 'active')
})

test('key rotation: a huge sequence signed with a leaked old key does not block the new key', async () => {
  const oldKeys = makeKeys()
  const newKeys = makeKeys()
  const kv = freshDb()
  const server = origin()
  // The attacker, holding the old key, got a huge sequence accepted by the old service worker.
  server.text = signManifest(manifest({ sequence: Number.MAX_SAFE_INTEGER - 1 }), oldKeys)
  assert.equal((await worker(server, kv, oldKeys).trust.load()).status, 'active')
  // The owner deploys swarmcdn-sw.js with the new key and a manifest signed by it.
  server.text = signManifest(manifest({ sequence: 1_800_000_000 }), newKeys)
  const rotated = worker(server, kv, newKeys)
  assert.equal((await rotated.trust.load()).status, 'active')
  assert.equal(rotated.trust.current()?.sequence, 1_800_000_000)
  // The old key can no longer sign anything the new worker takes, however high its sequence.
  server.text = signManifest(manifest({ sequence: Number.MAX_SAFE_INTEGER }), oldKeys)
  assert.equal((await rotated.trust.refresh()).error?.code, 'manifest-signature-invalid')
  assert.equal(rotated.trust.current()?.sequence, 1_800_000_000)
})

test('upgrade from the single-deployment state: the floor of our own stored manifest carries over', async () => {
  const keys = makeKeys()
  const kv = freshDb()
  const server = origin()
  server.text = signManifest(manifest({ sequence: 40 }), keys)
  await worker(server, kv, keys, '/', { legacyKeys: true }).trust.load()
  server.text = signManifest(manifest({ sequence: 39 }), keys) // a replayed older manifest
  const upgraded = worker(server, kv, keys)
  await upgraded.trust.load()
  assert.equal(upgraded.trust.current()?.sequence, 40)
  assert.equal((await upgraded.trust.refresh()).error?.code, 'manifest-rollback')
  // Another deployment's legacy state (another scope) is not inherited: sequence 39 is no rollback there.
  const other = worker(server, kv, keys, '/other/')
  assert.equal((await other.trust.load()).status, 'active')
  assert.equal(other.trust.current()?.sequence, 39)
})

test('a page load revalidates with a conditional request: 304 costs nothing, a deploy is taken at once', async () => {
  const keys = makeKeys()
  const kv = freshDb()
  const server = origin()
  server.text = signManifest(manifest({ sequence: 10 }), keys)
  server.etag = '"v10"'
  const { trust, clock } = worker(server, kv, keys)
  await trust.load()
  assert.equal(server.fetches, 1)
  clock.now += 2000
  const unchanged = trust.revalidate(1000)
  assert.ok(trust.pending(), 'requests can wait for the check')
  assert.equal((await unchanged)?.unchanged, true)
  assert.equal(server.conditional, 1)
  assert.equal(trust.pending(), null)
  // Within the minimum age: no request at all.
  clock.now += 500
  assert.equal(await trust.revalidate(1000), null)
  assert.equal(server.fetches, 2)
  // A deploy: the next page load gets the new manifest, well before the 5-minute refresh.
  server.text = signManifest(manifest({ sequence: 11 }), keys)
  server.etag = '"v11"'
  clock.now += 1000
  const outcome = await trust.revalidate(1000)
  assert.equal(outcome?.accepted, true)
  assert.equal(outcome?.unchanged, undefined)
  assert.equal(trust.current()?.sequence, 11)
  // The ETag survives a restart: the restarted SW's first check is conditional too.
  const restarted = worker(server, kv, keys)
  restarted.clock.now = clock.now + 2000
  await restarted.trust.load()
  const before = server.conditional
  assert.equal((await restarted.trust.revalidate(1000))?.unchanged, true)
  assert.equal(server.conditional, before + 1)
})
