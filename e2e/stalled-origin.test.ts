// A stalled origin in real Chromium (issue 11, item 4): the page is opened through a proxy in front of
// `swarmcdn serve` that stalls chosen Range requests of the service worker. Small timeouts are baked
// into the site's SW config, and only two HTTP slots, so two stalled requests hold every slot until
// a timeout frees one.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { skipWithoutChromium } from './helpers/browser.ts'
import { browserSuite } from './helpers/suite.ts'
import { waitForController } from './helpers/demo-site.ts'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'

const suite = browserSuite()
const proxies: FaultProxy[] = []
after(async () => {
  for (const proxy of proxies) await proxy.close()
})

const RECOVERS = '/media/photo-02.jpg' // its first Range body stalls after one piece and a bit; the retry works
const GIVES_UP = '/media/photo-03.jpg' // every Range request stalls (first: no headers; then: a few bytes)
const HEALTHY = '/media/photo-04.jpg' // never stalls, but needs an HTTP slot the stalled ones hold

/** A fetch by the page (through its SW): SHA-256, the SW's source header, and how long it took. */
function timedFetch(page: Page, path: string) {
  return page.evaluate(async (path) => {
    const started = performance.now()
    const res = await fetch(path)
    const bytes = await res.arrayBuffer()
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
    return {
      status: res.status,
      sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
      sources: res.headers.get('x-swarmcdn-sources'),
      ms: Math.round(performance.now() - started),
    }
  }, path)
}

async function waitFor(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('stalled Range requests are aborted and retried or given up; other assets are not held; a request with no byte sent falls back to the network', { skip: skipWithoutChromium, timeout: 90_000 }, async () => {
  const s = await suite.site({
    // originUntouchedMaxBytes 0: every cold request goes through the worker's own HTTP logic, the one under test.
    swConfig: { webseedResponseTimeoutMs: 1000, webseedBodyStallMs: 1000, webseedRetries: 1, webseedRetryBaseMs: 50, webseedConcurrency: 2, originUntouchedMaxBytes: 0 },
  })
  const pieceLength = s.prepared.build.manifest.assets.find((asset) => asset.path === RECOVERS)!.pieceLength
  let armed = false
  const proxy = await startFaultProxy(s.origin, (request, samePathBefore) => {
    if (!armed || request.range === null) return undefined
    if (request.path === RECOVERS && samePathBefore === 0) return { kind: 'stall', afterBytes: pieceLength + 1000 }
    if (request.path === GIVES_UP) return samePathBefore === 0 ? { kind: 'hang' } : { kind: 'stall', afterBytes: 1000 }
    return undefined
  })
  proxies.push(proxy)

  const context = await suite.browser().newContext()
  const page = await context.newPage()
  await page.goto(`${proxy.origin}/`)
  await waitForController(page)
  const seenBefore = proxy.requests.length
  armed = true
  const since = () => proxy.requests.slice(seenBefore)
  const of = (path: string) => since().filter((r) => r.path === path)

  const recovers = timedFetch(page, RECOVERS)
  const givesUp = timedFetch(page, GIVES_UP)
  // Both HTTP slots are now held by stalled requests; the healthy asset can only go once one is freed.
  await waitFor(() => of(RECOVERS).some((r) => r.fault === 'stall') && of(GIVES_UP).some((r) => r.fault === 'hang'), 'both stalled requests')
  const healthy = timedFetch(page, HEALTHY)
  const results = await Promise.race([
    Promise.all([recovers, givesUp, healthy]),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('a fetch never completed: a stalled request held its slot')), 30_000)),
  ])
  const [r, g, h] = results
  console.log(`# stalled-origin: recovers ${r.ms} ms (${r.sources}), gives up → network ${g.ms} ms (${g.sources ?? 'no SW header'}), healthy ${h.ms} ms (${h.sources})`)
  console.log(`# proxy saw: ${since().map((q) => `${q.path} ${q.range ?? 'no Range'} ${q.fault}${q.abortedByClient ? ' aborted' : ''}`).join('; ')}`)

  // Every asset byte-exact.
  for (const [path, result] of [[RECOVERS, r], [GIVES_UP, g], [HEALTHY, h]] as const) {
    assert.equal(result.status, 200, path)
    assert.equal(result.sha256, await s.sha256Of(path), `${path}: bytes differ from the file`)
  }

  // The body that stalled after one piece: aborted by the SW, and the rest asked from the next piece
  // (by a webseed retry, or by the piece path taking over the cold path's stream).
  const [stalled, ...retries] = of(RECOVERS)
  assert.equal(stalled.fault, 'stall')
  assert.ok(stalled.abortedByClient, 'the stalled request was aborted')
  assert.ok(r.sources?.includes('http'), 'served by the SW')
  assert.ok(retries.some((q) => q.rangeStart === stalled.rangeStart! + pieceLength), `a retry asks from the next missing piece: ${retries.map((q) => q.range).join(', ')}`)

  // The asset whose every Range request stalls: no byte reaches the page, so the original request
  // comes from the network (no Range). Whether its first request was the cold path's one Range
  // request (given up at the header limit) or the piece path's runs (each tried twice, then the batch
  // starts no more), every stalled request is aborted by the SW.
  const ranged = () => of(GIVES_UP).filter((q) => q.range !== null)
  assert.equal(ranged()[0].fault, 'hang')
  assert.ok(of(GIVES_UP).some((q) => q.range === null && q.fault === 'none'), 'the fallback fetched the asset from the network')
  assert.equal(g.sources, null, 'the fallback response is the network’s, not the SW’s')
  await waitFor(() => ranged().every((q) => q.abortedByClient), 'every stalled request of the dead asset aborted', 10_000)
  // Bounded: the read-ahead window is two batches (a small head, then the rest), and each starts no
  // more runs once one failed everywhere: at most the runs under way per batch, each tried twice.
  const webseedSlots = 2
  const batches = 2
  assert.ok(ranged().length <= batches * webseedSlots * 2, `at most the runs under way, each tried twice: ${ranged().length} requests`)

  // The healthy asset went as soon as a timeout freed a slot, through the SW.
  assert.ok(h.sources?.includes('http'), 'served by the SW')
  assert.ok(of(HEALTHY).every((q) => q.fault === 'none' && q.range !== null), 'of(HEALTHY).every((q) => q.fault === \'none\' && q.range !== null)')
  await context.close()
})
