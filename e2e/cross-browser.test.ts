// The core scenarios in Firefox ESR (WebDriver BiDi), and P2P between Chromium and Firefox visitors.
// The same scenario code runs in Chromium in e2e/service-worker.test.ts and e2e/peer-offload.test.ts;
// the browser matrix is in the README ("Browsers").

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { skipWithoutChromium } from './helpers/browser.ts'
import { firefoxSuite, skipWithoutFirefox } from './helpers/firefox.ts'
import { browserSuite } from './helpers/suite.ts'
import { firstVisitThenReload, seekAndRanges, spoiledManifestRefused, galleryFromPeer, GALLERY_PEER_BUDGET_MS } from './helpers/scenarios.ts'

const chromium = browserSuite()
const firefox = firefoxSuite()
const skipMixed = skipWithoutChromium || skipWithoutFirefox
// P2P on loopback needs the long latency budget (see GALLERY_PEER_BUDGET_MS).
const p2pSite = () => chromium.site({ swConfig: { peerBudgetMs: GALLERY_PEER_BUDGET_MS } })

test('Firefox: first visit installs the SW; assets come through it byte-exact, and a reload costs the origin nothing', { skip: skipWithoutFirefox, timeout: 120_000 }, async () => {
  await firstVisitThenReload(await chromium.site(), firefox.open)
})

test('Firefox: a video seeks through the SW with byte-exact 206 responses', { skip: skipWithoutFirefox, timeout: 120_000 }, async () => {
  await seekAndRanges(await chromium.site(), firefox.open)
})

test('Firefox: a tampered or expired manifest is refused and the site still loads from the network', { skip: skipWithoutFirefox, timeout: 120_000 }, async () => {
  await spoiledManifestRefused(await chromium.site(), firefox.open)
})

test('Firefox feeds Firefox: visitor B gets at least 90% of the gallery from visitor A', { skip: skipWithoutFirefox, timeout: 180_000 }, async () => {
  const bytes = await galleryFromPeer(await p2pSite(), firefox.open, firefox.open)
  assert.ok(bytes.peers > 0, 'bytes.peers > 0')
})

test('Chromium feeds Firefox: the Firefox visitor gets at least 90% of the gallery from the Chromium visitor', { skip: skipMixed, timeout: 180_000 }, async () => {
  await galleryFromPeer(await p2pSite(), chromium.open, firefox.open)
})

test('Firefox feeds Chromium: the Chromium visitor gets at least 90% of the gallery from the Firefox visitor', { skip: skipMixed, timeout: 180_000 }, async () => {
  await galleryFromPeer(await p2pSite(), firefox.open, chromium.open)
})
