// A visitor alone in the swarm, in real Chromium with the real tracker of `swarmcdn serve`: its page
// must not wait for peers that do not exist. The peer agent's chunk is made to arrive late (a proxy
// holds it back), and the service worker is fresh (it knows nothing of earlier agents), so only the
// SW's own count of the swarm (sw/swarm-probe.ts) can tell that nobody is there before the agent does.

import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { skipWithoutChromium } from './helpers/browser.ts'
import { browserSuite, galleryPaths, imagesLoaded } from './helpers/suite.ts'
import { fetchInPage, swStats, waitForController } from './helpers/demo-site.ts'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts'
import { countSwarmMembers } from '../sw/swarm-probe.ts'
import { AGENT_FILE, SAME_ORIGIN_TRACKER_PATH } from '../core/manifest-format.ts'

const suite = browserSuite()
const proxies: FaultProxy[] = []
after(async () => {
  for (const proxy of proxies) await proxy.close()
})

/** How late the agent chunk comes: far beyond what the gallery takes over loopback. */
const AGENT_DELAY_MS = 4000

test('a visitor alone whose agent loads late is not held: the SW counts the swarm empty and its assets go to HTTP at once', { skip: skipWithoutChromium, timeout: 90_000 }, async () => {
  // A budget longer than the agent's delay: a hold could only end with the agent (or the SW's count).
  const s = await suite.site({ swConfig: { peerBudgetMs: 10_000 } })
  let armed = false
  const proxy = await startFaultProxy(s.origin, (request) => (armed && request.path === `/${AGENT_FILE}` ? { kind: 'delay', ms: AGENT_DELAY_MS } : undefined))
  proxies.push(proxy)
  const swarm = s.prepared.build.manifest.swarm!
  const tracker = `ws://127.0.0.1:${s.serve.port}${SAME_ORIGIN_TRACKER_PATH}`
  const members = () => countSwarmMembers([tracker], swarm, { WebSocket: WebSocket as unknown as typeof globalThis.WebSocket, timeoutMs: 2000 })

  const context = await suite.browser().newContext()
  // First visit: installs the SW; its agent joins the swarm alone, then leaves with its page.
  const first = await context.newPage()
  await first.goto(`${proxy.origin}/`)
  await waitForController(first)
  assert.equal((await first.evaluate(() => window.swarmcdn!.ready)).p2p, true)
  await first.close()
  const deadline = Date.now() + 10_000
  while ((await members()) !== 0) {
    assert.ok(Date.now() < deadline, 'the tracker still counts the first page\'s agent')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  // A fresh worker: what the first page's agent told the last one is gone with it.
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('ServiceWorker.enable')
  await cdp.send('ServiceWorker.stopAllWorkers')

  armed = true
  const navigated = Date.now()
  await page.goto(`${proxy.origin}/gallery.html`)
  assert.ok(await imagesLoaded(page), 'images failed to load')
  const imagesAt = Date.now()

  const agentAsked = proxy.requests.find((request) => request.fault === 'delay')
  assert.ok(agentAsked, 'the agent chunk never went through the proxy: the test proves nothing')
  const agentServedAt = agentAsked.atMs + AGENT_DELAY_MS
  // What the first page loaded comes from the store now; the rest of the gallery from the origin.
  const cold = galleryPaths(s).filter((path) => !proxy.requests.some((request) => request.path === path && request.atMs < navigated))
  assert.ok(cold.length >= 3, `too few photos left for the origin: ${cold.join(', ')}`)
  for (const path of cold) {
    const asked = proxy.requests.filter((request) => request.path === path && request.atMs >= navigated)
    assert.ok(asked.length > 0, `${path}: never asked of the origin`)
    assert.ok(asked[0].atMs < agentServedAt, `${path}: first asked ${asked[0].atMs - navigated} ms after navigation, after the agent chunk came (${agentServedAt - navigated} ms): held for the agent`)
  }
  assert.ok(imagesAt < agentServedAt, `the gallery loaded ${imagesAt - navigated} ms after navigation, not before the agent (${agentServedAt - navigated} ms)`)
  const trace: Array<[number, string]> = (await swStats(page)).trace
  assert.ok(!trace.some(([, event]) => event === 'hold timed out'), 'a hold ran its whole budget')
  for (const path of galleryPaths(s)) assert.equal((await fetchInPage(page, path)).sha256, await s.sha256Of(path), `${path}: bytes differ from the file`)
  console.log(`# visitor alone: gallery loaded ${imagesAt - navigated} ms after navigation; the agent chunk came at ${agentServedAt - navigated} ms`)
  await context.close()
})
