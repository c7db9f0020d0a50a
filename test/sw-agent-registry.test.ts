import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentRegistry } from '../sw/agent-registry.ts'
import { parsePageMessage } from '../sw/messages.ts'
import { createAssetStats } from '../sw/asset-stats.ts'
import { makeAsset, makeBytes } from './sw-fixtures.ts'

test('agent registry: one port per client, replaced and pruned, old ports closed', () => {
  const registry = createAgentRegistry()
  const a = new MessageChannel()
  const b = new MessageChannel()
  const a2 = new MessageChannel()
  registry.register('client-a', a.port1)
  registry.register('client-b', b.port1)
  assert.deepEqual(registry.clientIds(), ['client-a', 'client-b'])
  registry.register('client-a', a2.port1)
  assert.equal(registry.get('client-a'), a2.port1)
  registry.prune(['client-a'])
  assert.deepEqual(registry.clientIds(), ['client-a'])
  assert.equal(registry.get('client-b'), undefined)
  registry.unregister('client-a')
  assert.equal(registry.size(), 0)
  for (const channel of [a, b, a2]) {
    channel.port1.close()
    channel.port2.close()
  }
})

test('page messages: known types parsed, anything else ignored', () => {
  assert.deepEqual(parsePageMessage({ type: 'swarmcdn:get-stats' }), { type: 'swarmcdn:get-stats' })
  assert.deepEqual(parsePageMessage({ type: 'swarmcdn:register-agent', extra: 1 }), { type: 'swarmcdn:register-agent' })
  assert.equal(parsePageMessage({ type: 'other' }), null)
  assert.equal(parsePageMessage('swarmcdn:get-stats'), null)
  assert.equal(parsePageMessage(null), null)
})

test('stats: per-asset and total bytes by source; snapshot is a plain, detached object', () => {
  const stats = createAssetStats({ recentLimit: 2 })
  const asset = makeAsset(makeBytes(20_000), { path: '/a.bin' })
  const t1 = stats.beginRequest(asset, { status: 200, start: 0, end: 19_999 })
  t1.add('store', 100)
  t1.add('http', 50)
  t1.finish('complete')
  stats.pieceRejected(asset, 'peers')
  const snapshot = stats.snapshot()
  assert.deepEqual(snapshot.assets['/a.bin'].bytes, { store: 100, peers: 0, http: 50 })
  assert.deepEqual(snapshot.totals, { requests: 1, bytes: { store: 100, peers: 0, http: 50 }, rejectedPieces: { peers: 1, http: 0 } })
  assert.deepEqual(t1.sources(), ['store', 'http'])
  t1.add('peers', 1)
  assert.equal(snapshot.totals.bytes.peers, 0, 'snapshot is a copy')
  assert.deepEqual(structuredClone(snapshot), snapshot)
  stats.beginRequest(asset, { status: 206, start: 0, end: 0 })
  stats.beginRequest(asset, { status: 206, start: 1, end: 1 })
  assert.equal(stats.snapshot().recent.length, 2)
})
