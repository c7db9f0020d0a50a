// Offload between real visitors: separate Chromium contexts, real WebRTC, the real tracker of
// `swarmcdn serve` (no seeder here, so every peer byte comes from another visitor).

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium, skipWithoutChromium } from './helpers/browser.ts'
import { startDemoSite, waitForController, fetchInPage, swStats, type DemoSite } from './helpers/demo-site.ts'
import { startCorruptSeeder } from './helpers/corrupt-seeder.ts'

let browser: Browser
const sites: DemoSite[] = []
before(async () => {
  if (!skipWithoutChromium) browser = await launchChromium()
})
after(async () => {
  await browser?.close()
  for (const site of sites) await site.close()
})

async function site(options: Parameters<typeof startDemoSite>[0] = {}): Promise<DemoSite> {
  const s = await startDemoSite({ seed: false, ...options })
  sites.push(s)
  return s
}

async function imagesLoaded(page: Page): Promise<void> {
  await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0), null, { timeout: 60_000 })
}

/** A visitor's first page: home (installs the SW; its own hero image still comes from the origin). */
async function arrive(context: BrowserContext, s: DemoSite): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${s.origin}/`)
  await waitForController(page)
  await page.evaluate(() => window.swarmcdn!.ready)
  return page
}

/** Waits until the page's SW answers each path from its store alone (background writes done). */
async function storedEverything(page: Page, paths: string[]): Promise<void> {
  for (const path of paths) {
    for (let attempt = 0; ; attempt++) {
      const sources = (await fetchInPage(page, path)).headers['x-swarmcdn-sources']
      if (sources === 'store') break
      if (attempt === 20) assert.fail(`${path} still not stored (${sources})`)
      await page.waitForTimeout(100)
    }
  }
}

const galleryPaths = (s: DemoSite) => s.assetPaths().filter((p) => p.endsWith('.jpg'))

test('visitor B gets at least 90% of the gallery\'s bytes from visitor A', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  const s = await site(process.env.DEADLINE ? { swConfig: { pieceDeadlineMs: Number(process.env.DEADLINE) } } : {})
  const a = await arrive(await browser.newContext(), s)
  await a.goto(`${s.origin}/gallery.html`)
  await imagesLoaded(a)
  assert.deepEqual(await a.evaluate(() => window.swarmcdn!.ready), { p2p: true })
  // A's store holds every photo now (its SW fetched them over HTTP and its agent seeds them).
  await storedEverything(a, galleryPaths(s))

  const galleryBytes = s.prepared.build.manifest.assets.filter((x) => x.path.endsWith('.jpg')).reduce((sum, x) => sum + x.length, 0)
  const bContext = await browser.newContext()
  const b = await arrive(bContext, s)
  const firstPageCost = await s.originBytes()
  const originBefore = await s.originBytes()
  await b.goto(`${s.origin}/gallery.html`)
  await imagesLoaded(b)
  const originForB = (await s.originBytes()) - originBefore
  const stats = (await swStats(b)).stats.totals.bytes
  const note = `gallery ${galleryBytes} B: origin served B ${originForB} B; B's SW: ${JSON.stringify(stats)}; origin asset bytes before B's gallery (A's visit + B's first page) ${firstPageCost} B`
  console.log(`# ${note}`)
  assert.ok(originForB <= 0.1 * galleryBytes, `origin served more than 10%: ${note}`)
  assert.ok(stats.peers >= 0.9 * galleryBytes, `less than 90% from peers: ${note}`)
  for (const path of galleryPaths(s)) {
    const result = await fetchInPage(b, path)
    assert.equal(result.sha256, await s.sha256Of(path), `${path}: B's bytes differ`)
  }
  const bStats = await b.evaluate(() => window.swarmcdn!.stats())
  assert.ok(bStats.bytes.peers >= 0.9 * galleryBytes, 'window.swarmcdn.stats() disagrees')
  await bContext.close()
})

test('a peer that serves corrupted pieces: no altered byte reaches the page, the peer is dropped, assets load', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  const s = await site()
  const liar = await startCorruptSeeder(s.prepared.siteDir, s.prepared.build.manifest, galleryPaths(s), `ws://127.0.0.1:${s.serve.port}/__swarmcdn/tracker`)
  try {
    const b = await arrive(await browser.newContext(), s)
    await b.goto(`${s.origin}/gallery.html`)
    await imagesLoaded(b)
    for (const path of galleryPaths(s)) assert.equal((await fetchInPage(b, path)).sha256, await s.sha256Of(path), `${path}: altered bytes reached the page`)
    const stats = await b.evaluate(() => window.swarmcdn!.stats())
    assert.ok(liar.uploadedBytes() > 0, 'the liar never got to send anything: the test proves nothing')
    assert.ok(stats.rejectedPieces >= 1, `no bad piece detected: ${JSON.stringify(stats)}`)
    assert.ok(stats.bannedPeers >= 1, `liar not banned: ${JSON.stringify(stats)}`)
    await b.waitForFunction(async () => (await window.swarmcdn!.stats()).peers === 0, null, { timeout: 15_000 })
    const sw = (await swStats(b)).stats.totals.bytes
    assert.equal(sw.peers, 0, 'bytes credited to peers although the only peer lied')
  } finally {
    await liar.close()
  }
})

test('the tracker down: every asset still loads, from HTTP', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site({ tracker: false })
  const page = await arrive(await browser.newContext(), s)
  await page.goto(`${s.origin}/gallery.html`)
  await imagesLoaded(page)
  for (const path of galleryPaths(s)) {
    const result = await fetchInPage(page, path)
    assert.equal(result.sha256, await s.sha256Of(path))
  }
  const sw = (await swStats(page)).stats.totals.bytes
  assert.ok(sw.http >= galleryPaths(s).length * 1_000_000, `expected HTTP bytes: ${JSON.stringify(sw)}`)
})
