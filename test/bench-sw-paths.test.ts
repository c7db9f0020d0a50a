// The bench:sw bookkeeping: wrong bytes never count, medians and ratios come from the passes that do.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkReads, toPass, type Pass } from '../scripts/bench-sw-paths/visits.ts'
import { formatTable, summarizeMeasure, summarizeRatios, MEASURES, type RunSamples } from '../scripts/bench-sw-paths/report.ts'

const assets = [
  { path: '/a.jpg', bytes: 3, sha256: 'aa' },
  { path: '/b.bin', bytes: 5, sha256: 'bb' },
]
const read = (path: string, ms: number, over: Record<string, unknown> = {}) => {
  const asset = assets.find((a) => a.path === path)!
  return { path, ms, status: 200, bytes: asset.bytes, sha256: asset.sha256, ...over }
}
const pass = (msA: number, msB: number, problems: string[] = []): Pass => ({
  totalMs: msA + msB, wallMs: msA + msB, reads: [read('/a.jpg', msA), read('/b.bin', msB)], facts: {}, problems,
})

test('checkReads accepts right bytes and names every wrong read', () => {
  assert.deepEqual(checkReads([read('/a.jpg', 1), read('/b.bin', 1)], assets), [])
  const problems = checkReads([read('/a.jpg', 1, { sha256: 'xx' }), read('/b.bin', 1, { status: 404 })], assets)
  assert.equal(problems.length, 2)
  assert.match(problems[0], /a\.jpg.*SHA-256/)
  assert.match(problems[1], /b\.bin.*404/)
  assert.match(checkReads([read('/a.jpg', 1)], assets)[0], /1 reads for 2 assets/)
  assert.match(checkReads([read('/a.jpg', 1, { bytes: 2 }), read('/b.bin', 1)], assets)[0], /2 bytes/)
  assert.match(checkReads([read('/b.bin', 1), read('/a.jpg', 1)], assets)[0], /expected \/a\.jpg/)
})

test('medians skip passes with problems; ratios are of medians, with the per-run spread', () => {
  const runs: RunSamples[] = [
    { 'http-cold': pass(10, 90), 'swarmcdn-cold': pass(20, 180), 'workbox-warm': pass(5, 5), 'swarmcdn-warm': pass(6, 6) },
    { 'http-cold': pass(20, 80), 'swarmcdn-cold': pass(30, 270), 'workbox-warm': pass(5, 15), 'swarmcdn-warm': pass(10, 20) },
    // A fast wrong pass: must not lower the median.
    { 'http-cold': pass(50, 50), 'swarmcdn-cold': pass(1, 1, ['/a.jpg: SHA-256 differs']), 'workbox-warm': pass(5, 10), 'swarmcdn-warm': pass(9, 9) },
  ]
  const summaries = MEASURES.map(({ measure }) => summarizeMeasure(runs, measure))
  const cold = summaries.find((s) => s.measure === 'swarmcdn-cold')!
  assert.equal(cold.counted, 2)
  assert.equal(cold.failed, 1)
  assert.equal(cold.medianMs, 250)
  assert.equal(cold.perAssetMedianMs['/b.bin'], 225)
  assert.deepEqual(cold.problems, ['/a.jpg: SHA-256 differs'])
  assert.equal(summaries.find((s) => s.measure === 'workbox-cold')!.medianMs, null)

  const ratios = summarizeRatios(runs, summaries)
  const coldRatio = ratios.find((r) => r.name.startsWith('cold: swarmcdn'))!
  assert.equal(coldRatio.ratio, 2.5)
  assert.deepEqual([coldRatio.perRunMin, coldRatio.perRunMax], [2, 3])
  const warmRatio = ratios.find((r) => r.name.startsWith('warm'))!
  assert.equal(warmRatio.ratio, 18 / 15)
  assert.equal(ratios.find((r) => r.name.startsWith('cold: Workbox'))!.ratio, null)

  const table = formatTable(summaries, ratios, 19e6)
  assert.match(table, /swarmcdn, cold \(no peers\)\s+250 ms/)
  assert.match(table, /2 \(1 FAILED\)/)
  assert.match(table, /cold: swarmcdn \/ plain HTTP\s+2\.50× \(per run 2\.00–3\.00×\)\s+target ≤ 1\.3× NOT met/)
  assert.match(table, /warm: swarmcdn \/ Workbox CacheFirst\s+1\.20×.*target ≤ 1\.2× met/)
})

test('toPass: the path each variant must take', () => {
  const reads = (sources: string | null, viaSw: boolean) => [read('/a.jpg', 4, { sources, viaSw }), read('/b.bin', 6, { sources, viaSw })]
  const ok = toPass('swarmcdn', { visitId: 'v', kind: 'pass', step: 'warm', reads: reads('store', true), facts: { peers: 0 } }, assets)
  assert.deepEqual(ok.problems, [])
  assert.equal(ok.totalMs, 10)
  assert.equal(toPass('swarmcdn', { visitId: 'v', kind: 'pass', step: 'warm', reads: reads('store,http', true), facts: { peers: 0 } }, assets).problems.length, 2)
  assert.match(toPass('swarmcdn', { visitId: 'v', kind: 'pass', step: 'cold', reads: reads('http', true), facts: { peers: 1 } }, assets).problems[0], /1 peers/)
  assert.match(toPass('swarmcdn', { visitId: 'v', kind: 'pass', step: 'cold', reads: reads('store', true), facts: { peers: 0 } }, assets).problems[0], /cold read came from store/)
  assert.match(toPass('http', { visitId: 'v', kind: 'pass', step: 'cold', reads: reads(null, true) }, assets).problems[0], /handled by a service worker/)
  assert.match(toPass('workbox', { visitId: 'v', kind: 'pass', step: 'warm', reads: reads(null, false) }, assets).problems[0], /not handled/)
  assert.match(toPass('workbox', { visitId: 'v', kind: 'pass', step: 'cold', reads: reads(null, true), facts: { cached: false } }, assets).problems[0], /Cache Storage/)
})
