import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createSwarmLru } from '../loader/agent/swarm-lru.ts'
import { AGENT_CONFIG_DEFAULTS, resolveAgentConfig } from '../loader/agent/agent-config.ts'

test('joining beyond the cap leaves the least-recently-used swarm', () => {
  const lru = createSwarmLru(3)
  assert.deepEqual(lru.touch('a'), [])
  assert.deepEqual(lru.touch('b'), [])
  assert.deepEqual(lru.touch('c'), [])
  assert.deepEqual(lru.touch('a'), [], 'touching a member evicts nothing')
  assert.deepEqual(lru.touch('d'), ['b'])
  assert.deepEqual(lru.keys(), ['c', 'a', 'd'])
  assert.equal(lru.size, 3)
})

test('busy swarms are kept while an idle one can go; if all are busy the oldest goes anyway', () => {
  const lru = createSwarmLru(2)
  lru.touch('a')
  lru.touch('b')
  assert.deepEqual(lru.touch('c', (k) => k === 'a'), ['b'])
  assert.deepEqual(lru.touch('d', () => true), ['a'])
  assert.deepEqual(lru.keys(), ['c', 'd'])
})

test('the number of swarms never grows with the number of assets', () => {
  const lru = createSwarmLru(AGENT_CONFIG_DEFAULTS.maxActiveSwarms)
  let evictions = 0
  for (let i = 0; i < 500; i++) evictions += lru.touch(`asset-${i}`).length
  assert.equal(lru.size, AGENT_CONFIG_DEFAULTS.maxActiveSwarms)
  assert.equal(evictions, 500 - AGENT_CONFIG_DEFAULTS.maxActiveSwarms)
  lru.delete('asset-499')
  assert.equal(lru.has('asset-499'), false)
})

test('agent config: defaults, typed overrides, bad values ignored, caps at least 1', () => {
  assert.deepEqual(resolveAgentConfig(), { ...AGENT_CONFIG_DEFAULTS })
  const config = resolveAgentConfig({ maxActiveSwarms: 0, maxConnsPerSwarm: '9', peerWaitMs: 200, iceServers: [{ urls: 'stun:x' }], bogus: 1 })
  assert.equal(config.maxActiveSwarms, 1)
  assert.equal(config.maxConnsPerSwarm, AGENT_CONFIG_DEFAULTS.maxConnsPerSwarm)
  assert.equal(config.peerWaitMs, 200)
  assert.deepEqual(config.iceServers, [{ urls: 'stun:x' }])
  assert.equal(resolveAgentConfig(null).peerWaitMs, AGENT_CONFIG_DEFAULTS.peerWaitMs)
})
