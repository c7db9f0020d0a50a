// The demo as a new user meets it (`swarmcdn serve` with tracker and seeder): two visitors watch the
// film and open the gallery; the visitor panel and the owner dashboard show what happened.
// Screenshots of both are saved to e2e/artifacts/.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, skipWithoutChromium } from './helpers/browser.ts'
import { startDemoSite, waitForController, type DemoSite } from './helpers/demo-site.ts'

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url))
let browser: Browser
let s: DemoSite
before(async () => {
  if (skipWithoutChromium) return
  browser = await launchChromium()
  s = await startDemoSite({ seed: true })
  await mkdir(ARTIFACTS, { recursive: true })
})
after(async () => {
  await browser?.close()
  await s?.close()
})

async function visitor(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  const page = await context.newPage()
  await page.goto(`${s.origin}/`)
  await waitForController(page)
  await page.evaluate(() => window.swarmcdn!.ready)
  await page.goto(`${s.origin}/gallery.html`)
  await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0), null, { timeout: 60_000 })
  await page.goto(`${s.origin}/film.html`)
  await page.evaluate(() => new Promise<void>((resolve, reject) => {
    const film = document.getElementById('film') as HTMLVideoElement
    film.muted = true
    film.addEventListener('timeupdate', () => film.currentTime > 2 && resolve())
    film.play().catch(reject)
  }))
  return page
}

const panelText = (page: Page, key: string) => page.locator(`#swarm-panel [data-k="${key}"]`).textContent()

test('the visitor panel and the owner dashboard show peer bytes and the right offload ratio', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  await visitor()
  const b = await visitor()

  // The panel: this visitor's bytes by source, peers, a chart.
  await b.waitForFunction(() => document.querySelector('#swarm-panel [data-k="peers-bytes"]')?.textContent !== '0 B', null, { timeout: 15_000 })
  const panelStats = await b.evaluate(() => window.swarmcdn!.stats())
  assert.ok(panelStats.bytes.peers > 0, 'no peer bytes')
  assert.match((await panelText(b, 'peers-bytes'))!, /\d+(\.\d)? (KiB|MiB)/)
  assert.ok(Number(await panelText(b, 'peers')) >= 1, 'panel shows no peers')
  await b.screenshot({ path: `${ARTIFACTS}visitor-panel.png` })

  // The owner dashboard: its ratio must be peer bytes visitors reported / (those + asset bytes the origin served).
  const owner = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage()
  await owner.goto(`${s.origin}/owner.html`)
  await b.waitForTimeout(1500) // let both panels report their latest totals
  const reports = await (await fetch(`${s.origin}/__swarmcdn/visitor-reports`)).json()
  // The owner page carries the panel too, so it reports as a third visitor.
  assert.ok(reports.visitors >= 2, `expected the visitors' reports, got ${reports.visitors}`)
  const originAssetBytes = await s.originBytes()
  const expected = reports.totals.peers / (reports.totals.peers + originAssetBytes)
  assert.ok(reports.totals.peers > 0, 'reports.totals.peers > 0')
  assert.ok(originAssetBytes > 0, 'first pages load their assets before the SW controls them: the origin served something')
  await owner.waitForFunction((want) => Math.abs(Number(document.getElementById('offload-ratio')!.dataset.ratio) - want) < 0.02, expected, { timeout: 15_000 })
  const shown = await owner.locator('#offload-ratio').textContent()
  assert.match(shown!, /^\d+\.\d%$/)
  assert.ok(Math.abs(parseFloat(shown!) / 100 - expected) < 0.02, `dashboard shows ${shown}, reports say ${(expected * 100).toFixed(1)}%`)
  assert.match((await owner.locator('#swarm-count').textContent())!, /^\d+ \/ \d+$/)
  assert.ok((await owner.locator('#swarm-table tbody tr').count()) >= 1, 'no swarms listed')
  await owner.waitForTimeout(2500) // a second point on the chart
  await owner.screenshot({ path: `${ARTIFACTS}owner-dashboard.png`, fullPage: true })
})
