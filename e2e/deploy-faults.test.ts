// Deploys in real Chromium: a rebuilt site takes effect on the visitor's next page load, with the
// new bytes (not the old ones from the store, and never a broken image).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { skipWithoutChromium } from './helpers/browser.ts'
import { browserSuite, imagesLoaded, galleryPaths } from './helpers/suite.ts'
import { waitForController, fetchInPage, swStats } from './helpers/demo-site.ts'
import { buildSite } from '../origin-tools/src/commands/build.ts'
import { SW_CONFIG_DEFAULTS } from '../sw/config.ts'

const suite = browserSuite()

test('a deploy while a visitor is on the site takes effect on the next page load', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  const s = await suite.site()
  const context = await suite.browser().newContext()
  const page = await context.newPage()
  await page.goto(`${s.origin}/`)
  await waitForController(page)
  await page.goto(`${s.origin}/gallery.html`)
  assert.ok(await imagesLoaded(page), 'await imagesLoaded(page)')
  const [changed, donor] = galleryPaths(s)
  // Store writes finish in the background: wait until the changed image is served from the store alone.
  for (let attempt = 0; (await fetchInPage(page, changed)).headers['x-swarmcdn-sources'] !== 'store'; attempt++) {
    assert.ok(attempt < 40, `${changed} was never stored`)
    await page.waitForTimeout(250)
  }
  const sequenceBefore = (await swStats(page)).manifest.sequence

  // The owner replaces one image and deploys, while the visitor's page is open.
  const siteDir = s.prepared.siteDir
  await writeFile(join(siteDir, decodeURIComponent(changed)), await readFile(join(siteDir, decodeURIComponent(donor))))
  await buildSite({
    siteDir, keyFile: s.prepared.keyFile, baseUrl: 'http://localhost:8080/', trackers: ['/__swarmcdn/tracker'], mirrors: [],
    minSizeBytes: 256 * 1024, expiresInDays: 7, killSwitch: false, json: true,
  })

  // The next page load, well within the 5-minute refresh interval, but not within
  // manifestNavigationCheckMs of the gallery's own check (a burst of navigations checks once): on a
  // fast machine the gallery, its store writes and the deploy all fit in less than that.
  await page.waitForTimeout(SW_CONFIG_DEFAULTS.manifestNavigationCheckMs)
  await page.reload()
  assert.ok(await imagesLoaded(page), 'every image of the page decodes')
  // Counted over all assets: the changed file's own counters start again under its new infohash.
  const swRequests = async () => (await swStats(page)).stats.totals.requests as number
  const requestsBefore = await swRequests()
  const after = await fetchInPage(page, changed)
  assert.equal(after.status, 200)
  assert.equal(after.sha256, await s.sha256Of(changed), 'the page gets the deployed bytes, not the stored old ones')
  // A cold whole-file response may be the origin's own (no X-Swarmcdn-Sources): the SW's count tells.
  assert.equal(await swRequests(), requestsBefore + 1, 'still served by the SW, under the new manifest')
  assert.ok((await swStats(page)).manifest.sequence > sequenceBefore, '(await swStats(page)).manifest.sequence > sequenceBefore')
  await context.close()
})
