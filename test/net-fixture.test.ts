// The emulated internet's pure parts: address plan, tbf arguments, pair round-trip times.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { visitorAddresses, MAX_VISITORS } from '../e2e/net/address-plan.ts'
import { tbfArgs } from '../e2e/net/shaping.ts'
import { spreadPeerRtts } from '../e2e/net/emulated-internet.ts'
import { delayerArgs } from '../e2e/net/delayer.ts'

test('visitor addresses stay in the documentation ranges and never overlap', () => {
  const seen = new Set<string>()
  for (let i = 0; i < MAX_VISITORS; i++) {
    const a = visitorAddresses(i)
    assert.match(a.publicIp, /^203\.0\.113\.\d+$/)
    for (const ip of [a.gatewayIp, a.lanIp]) assert.match(ip, /^198\.51\.100\.\d+$/)
    for (const ip of [a.publicIp, a.gatewayIp, a.lanIp]) {
      assert.ok(!seen.has(ip), `${ip} used twice`)
      seen.add(ip)
      assert.ok(Number(ip.split('.')[3]) < 255, 'Number(ip.split(\'.\')[3]) < 255')
    }
  }
  assert.throws(() => visitorAddresses(MAX_VISITORS), RangeError)
})

test('tbf gets a rate, a bucket of at least one full packet and the buffer in ms', () => {
  assert.deepEqual(tbfArgs({ rateMbit: 10, queueMs: 50 }), ['tbf', 'rate', '10mbit', 'burst', String(16 * 1024), 'latency', '50ms'])
  const fast = tbfArgs({ rateMbit: 200, queueMs: 50 })
  assert.equal(fast[4], String(200e6 / 8 * 0.004))
  assert.throws(() => tbfArgs({ rateMbit: 0, queueMs: 50 }), RangeError)
})

test('pair round trips cover the range, are symmetric and deterministic', () => {
  const rtt = spreadPeerRtts(8, 20, 60)
  const values: number[] = []
  for (let i = 0; i < 8; i++) for (let j = i + 1; j < 8; j++) {
    assert.equal(rtt(i, j), rtt(j, i))
    values.push(rtt(i, j))
  }
  assert.equal(Math.min(...values), 20)
  assert.equal(Math.max(...values), 60)
  assert.deepEqual(values, (() => { const again = spreadPeerRtts(8, 20, 60); const v: number[] = []; for (let i = 0; i < 8; i++) for (let j = i + 1; j < 8; j++) v.push(again(i, j)); return v })())
  assert.equal(spreadPeerRtts(2, 20, 60)(0, 1), 40)
})

test('delayer arguments name the queue, the LAN, the default and each peer', () => {
  assert.deepEqual(delayerArgs({ queue: 0, lanCidr: '198.51.100.8/29', defaultDelayMs: 20, peers: { '203.0.113.102': 10 } }),
    ['--queue', '0', '--lan', '198.51.100.8/29', '--default-ms', '20', '--peer', '203.0.113.102=10'])
})
