// The service worker in real Chromium against a built demo site under `swarmcdn serve` (no seeder,
// so every byte the SW gets comes from the store or by HTTP Range from the origin). The first three
// scenarios live in helpers/scenarios.ts and run in Firefox too (cross-browser.test.ts).
// Every assert.ok carries a message: without one, a failing assert.ok makes Node 20 read its expression
// back from the source at the position in tsx's one-line output, which blocked the process ~4 min
// (nodejs/node#52677; no test timeout fires meanwhile).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { skipWithoutChromium } from './helpers/browser.ts'
import { browserSuite, imagesLoaded, galleryPaths } from './helpers/suite.ts'
import { waitForController, fetchInPage, refreshManifest, swStats, swRequestsFor } from './helpers/demo-site.ts'
import { ASSET_COPIES_CACHE, assetCopyUrl } from '../sw/asset-copies.ts'
import { firstVisitThenReload, seekAndRanges, spoiledManifestRefused, rebuild } from './helpers/scenarios.ts'
import { MANIFEST_FILE, parseEnvelope, type Manifest } from '../core/manifest-format.ts'
import { pieceCount } from '../core/piece-math.ts'

const suite = browserSuite()
const site = suite.site

test('first visit installs the SW; assets then come through it byte-exact, and a reload costs the origin nothing', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  await firstVisitThenReload(await site(), suite.open)
})

test('a video seeks through the SW with byte-exact 206 responses', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  await seekAndRanges(await site(), suite.open)
})

test('swarmcdn\'s own scripts go straight to the network, never queued behind the worker\'s asset requests (Chromium\'s static routes)', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site()
  const page = await suite.open()
  await page.goto(`${s.origin}/`)
  await waitForController(page)
  await page.goto(`${s.origin}/gallery.html`)
  assert.ok(await imagesLoaded(page), 'gallery images failed to load')
  const loader = await page.evaluate(() => {
    const entry = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname.endsWith('/swarmcdn.js')) as (PerformanceResourceTiming & { workerMatchedSourceType?: string }) | undefined
    return entry ? { routedTo: entry.workerMatchedSourceType ?? null } : null
  })
  assert.ok(loader, 'the page loaded the loader')
  assert.equal(loader.routedTo, 'network', 'the loader went through the fetch handler')
  await page.close()
})

test('a tampered or expired manifest is refused and the site still loads from the network', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  await spoiledManifestRefused(await site(), suite.open)
})

test('a rolled-back manifest is refused: the SW keeps the newer one', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site()
  const manifestFile = join(s.prepared.siteDir, MANIFEST_FILE)
  const older = await readFile(manifestFile, 'utf8')
  const newer = await rebuild(s)
  const context = await suite.browser().newContext()
  const page = await context.newPage()
  await page.goto(`${s.origin}/`)
  await waitForController(page)
  assert.deepEqual(await refreshManifest(page), { type: 'swarmcdn:manifest-status', status: 'active', sequence: newer.manifest.sequence })
  await writeFile(manifestFile, older)
  const after = await refreshManifest(page)
  assert.equal(after.status, 'active')
  assert.equal(after.sequence, newer.manifest.sequence, 'rolled back to an older sequence')
  const requestsBefore = await swRequestsFor(page, galleryPaths(s)[1])
  const result = await fetchInPage(page, galleryPaths(s)[1])
  assert.equal(await swRequestsFor(page, galleryPaths(s)[1]), requestsBefore + 1, 'the SW still answers, under the newer manifest')
  assert.equal(result.sha256, await s.sha256Of(galleryPaths(s)[1]))
  await context.close()
})

test('the signed kill switch unregisters the SW and the site keeps working', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site()
  const context = await suite.browser().newContext()
  const page = await context.newPage()
  await page.goto(`${s.origin}/`)
  await waitForController(page)
  await rebuild(s, { killSwitch: true })
  assert.equal((await refreshManifest(page)).status, 'killed')
  await page.waitForFunction(async () => (await navigator.serviceWorker.getRegistrations()).length === 0, null, { timeout: 10_000 })
  await page.goto(`${s.origin}/gallery.html`)
  assert.ok(await imagesLoaded(page), 'images failed to load')
  assert.equal(await page.evaluate(() => navigator.serviceWorker.controller), null)
  // It stays gone: later pages do not install a SW that would only remove itself again.
  assert.deepEqual(await page.evaluate(() => window.swarmcdn!.ready), { p2p: false, reason: 'killed' })
  await page.goto(`${s.origin}/film.html`)
  await page.evaluate(() => window.swarmcdn!.ready)
  assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length), 0)
  await context.close()
})

test('warm path: a stored copy changed behind the worker\'s back is served at most once, then its asset leaves the store and comes back byte-exact', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site()
  const path = galleryPaths(s)[0]
  const manifest = JSON.parse(parseEnvelope(await readFile(join(s.prepared.siteDir, MANIFEST_FILE), 'utf8')).manifest) as Manifest
  const asset = manifest.assets.find((a) => a.path === path)!
  const original = await s.sha256Of(path)
  const context = await suite.browser().newContext()
  const page = await context.newPage()
  await page.goto(`${s.origin}/`)
  await waitForController(page)
  assert.equal((await fetchInPage(page, path)).sha256, original)
  // The first load stores its pieces (on the side, or from the HTTP cache once the page is quiet);
  // a later one is wholly from the store, and leaves a whole copy in Cache Storage (the warm path).
  const copyKey = assetCopyUrl(s.origin, asset.infoHash)
  const copyHeld = () => page.evaluate(async ({ cacheName, key }) => !!(await (await caches.open(cacheName)).match(key)), { cacheName: ASSET_COPIES_CACHE, key: copyKey })
  const deadline = Date.now() + 15_000
  let warm = await fetchInPage(page, path)
  while ((warm.headers['x-swarmcdn-sources'] !== 'store' || !(await copyHeld())) && Date.now() < deadline) {
    await page.waitForTimeout(250)
    warm = await fetchInPage(page, path)
  }
  assert.equal(warm.headers['x-swarmcdn-sources'], 'store')
  assert.equal(warm.sha256, original)
  assert.equal(await copyHeld(), true, 'a whole copy of the stored asset')

  // Something other than the worker rewrites the copy (same size, one byte flipped).
  await page.evaluate(async ({ cacheName, key }) => {
    const cache = await caches.open(cacheName)
    const copy = (await cache.match(key))!
    const bytes = new Uint8Array(await copy.clone().arrayBuffer())
    bytes[70_000] ^= 0xff
    await cache.put(key, new Response(bytes, { headers: copy.headers }))
  }, { cacheName: ASSET_COPIES_CACHE, key: copyKey })

  const served = await fetchInPage(page, path)
  assert.equal(served.headers['x-swarmcdn-sources'], 'store')
  assert.notEqual(served.sha256, original, 'passive media from the store are served before their check (docs/service-worker.md, warm path)')
  // Checked once the page is quiet: the bad piece sends the copy and every piece of the asset out of the store.
  const storedKeys = () => page.evaluate(async (prefix) => {
    const db: IDBDatabase = await new Promise((resolve, reject) => {
      const open = indexedDB.open('swarmcdn-pieces')
      open.onsuccess = () => resolve(open.result)
      open.onerror = () => reject(open.error)
    })
    const keys: IDBValidKey[] = await new Promise((resolve, reject) => {
      const get = db.transaction('lru').objectStore('lru').getAllKeys() // a record per stored piece (sw/piece-store-idb.ts)
      get.onsuccess = () => resolve(get.result)
      get.onerror = () => reject(get.error)
    })
    db.close()
    return keys.filter((key) => String(key).startsWith(`${prefix}:`)).length
  }, asset.infoHash)
  assert.ok((await storedKeys()) > 0, 'the asset\'s pieces were never stored')
  const checkDeadline = Date.now() + 10_000
  while (((await storedKeys()) > 0 || (await copyHeld())) && Date.now() < checkDeadline) await page.waitForTimeout(200)
  assert.equal(await storedKeys(), 0, 'the asset\'s pieces left the store')
  assert.equal(await copyHeld(), false, 'and its copy')
  const after = await fetchInPage(page, path)
  assert.equal(after.sha256, original)
  assert.notEqual(after.headers['x-swarmcdn-sources'], 'store')
  await context.close()
})

test('cold path, no peers: a whole-file request gets the origin\'s own response untouched; it is stored afterwards from the HTTP cache with no new origin byte, then served from its copy', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site()
  const [path, ...probes] = galleryPaths(s).reverse()
  const context = await suite.browser().newContext()
  const page = await context.newPage()
  await page.goto(`${s.origin}/`)
  await waitForController(page)
  await page.evaluate(() => window.swarmcdn!.ready)
  // Alone on the tracker: once the worker knows this visitor's agent found nobody, a cold request
  // takes the untouched way. Other images probe for that moment (each is cold only once).
  let probed = false
  for (const probe of probes) {
    if ((await fetchInPage(page, probe)).headers['x-swarmcdn-sources'] === undefined) {
      probed = true
      break
    }
    await page.waitForTimeout(300)
  }
  assert.ok(probed, 'no cold request went untouched')
  const first = await fetchInPage(page, path)
  assert.equal(first.sha256, await s.sha256Of(path))
  assert.equal(await swRequestsFor(page, path), 1, 'answered by the SW')
  assert.equal(first.headers['x-swarmcdn-sources'], undefined, 'the origin\'s own response: its head, not one the SW made')
  const originAfterFirst = await s.originBytes(path)
  assert.ok(originAfterFirst >= first.length, `origin served ${originAfterFirst} B for a ${first.length} B response`)

  const deadline = Date.now() + 15_000
  let later = await fetchInPage(page, path)
  while (later.headers['x-swarmcdn-sources'] !== 'store' && Date.now() < deadline) {
    await page.waitForTimeout(500) // quiet: storing waits for the page to rest
    later = await fetchInPage(page, path)
  }
  assert.equal(later.headers['x-swarmcdn-sources'], 'store', 'stored once the page was quiet')
  assert.equal(later.sha256, first.sha256)
  assert.equal(await s.originBytes(path), originAfterFirst, 'stored from the HTTP cache: not one more origin byte')
  const manifest = JSON.parse(parseEnvelope(await readFile(join(s.prepared.siteDir, MANIFEST_FILE), 'utf8')).manifest) as Manifest
  const infoHash = manifest.assets.find((a) => a.path === path)!.infoHash
  const copied = await page.evaluate(async ({ cacheName, key }) => !!(await (await caches.open(cacheName)).match(key)), { cacheName: ASSET_COPIES_CACHE, key: assetCopyUrl(s.origin, infoHash) })
  assert.equal(copied, true, 'a whole copy for the warm path')
  await context.close()
})

test('a small storage budget evicts pieces and still serves correct bytes', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const budget = 3 * 1024 * 1024
  const s = await site({ swConfig: { storeBudgetBytes: budget } })
  const assets = s.prepared.build.manifest.assets
  const context = await suite.browser().newContext()
  const page = await context.newPage()
  await page.goto(`${s.origin}/download.html`)
  await waitForController(page)
  const httpBytes = async () => (await swStats(page)).stats.totals.bytes.http as number
  /** The store's usage counter and how many pieces of one asset it holds, read from its database by the page. */
  const store = (infoHash: string) => page.evaluate(async (prefix) => {
    const db: IDBDatabase = await new Promise((resolve, reject) => {
      const open = indexedDB.open('swarmcdn-pieces')
      open.onsuccess = () => resolve(open.result)
      open.onerror = () => reject(open.error)
    })
    const tx = db.transaction(['meta', 'lru'])
    const read = <T>(request: IDBRequest<T>) => new Promise<T>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    const [usage, keys] = await Promise.all([read(tx.objectStore('meta').get('usageBytes')), read(tx.objectStore('lru').getAllKeys())]) // a record per stored piece
    db.close()
    return { usageBytes: (usage as number | undefined) ?? 0, pieces: keys.filter((key) => String(key).startsWith(`${prefix}:`)).length }
  }, infoHash)
  const perRound: number[] = []
  for (let round = 0; round < 2; round++) {
    const before = await httpBytes()
    for (const path of galleryPaths(s)) {
      const result = await fetchInPage(page, path)
      assert.equal(result.sha256, await s.sha256Of(path), `${path} round ${round}`)
      // A cold whole-file response may be the origin's own, stored only once the page is quiet (at
      // most 3 s later, deferred-store.ts): wait until this photo is wholly stored before the next.
      const asset = assets.find((a) => a.path === path)!
      const deadline = Date.now() + 15_000
      let held = await store(asset.infoHash)
      while (held.pieces < pieceCount(asset.length, asset.pieceLength) && Date.now() < deadline) {
        await page.waitForTimeout(200)
        held = await store(asset.infoHash)
      }
      assert.equal(held.pieces, pieceCount(asset.length, asset.pieceLength), `${path} round ${round}: not wholly stored`)
      assert.ok(held.usageBytes <= budget, `store over its budget: ${held.usageBytes} B`)
      assert.ok(held.usageBytes >= asset.length, `usage ${held.usageBytes} B below the ${asset.length} B just stored`)
    }
    perRound.push((await httpBytes()) - before)
    // ~10 MB of photos through a 3 MiB store: at most one and a bit is left; the first went long ago.
    const first = assets.find((a) => a.path === galleryPaths(s)[0])!
    assert.equal((await store(first.infoHash)).pieces, 0, `round ${round}: ${first.path} was never evicted`)
    const copyHeld = await page.evaluate(async ({ cacheName, key }) => !!(await (await caches.open(cacheName)).match(key)), { cacheName: ASSET_COPIES_CACHE, key: assetCopyUrl(s.origin, first.infoHash) })
    assert.equal(copyHeld, false, `round ${round}: ${first.path} left the store but its whole copy stayed (served beyond the budget)`)
  }
  assert.ok(perRound[1]! > 5_000_000, `second round fetched only ${perRound[1]} B: nothing was evicted?`)
  await context.close()
})

test('two tabs of the same visitor loading the same page fetch each piece once', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site()
  const context = await suite.browser().newContext()
  const first = await context.newPage()
  await first.goto(`${s.origin}/download.html`) // no large asset on this page
  await waitForController(first)
  const second = await context.newPage()
  const before = await s.originBytes()
  await Promise.all([first.goto(`${s.origin}/gallery.html`), second.goto(`${s.origin}/gallery.html`)])
  assert.ok(await imagesLoaded(first), 'images failed to load in the first tab')
  assert.ok(await imagesLoaded(second), 'images failed to load in the second tab')
  const galleryBytes = s.prepared.build.manifest.assets.filter((x) => x.path.endsWith('.jpg')).reduce((sum, x) => sum + x.length, 0)
  const served = (await s.originBytes()) - before
  assert.ok(served <= galleryBytes, `origin served ${served} B for ${galleryBytes} B of photos shown in two tabs`)
  assert.ok(served >= 0.9 * galleryBytes, `the photos came from somewhere else? ${served} B`)
  await context.close()
})

test('a first page\'s assets, loaded before the SW, are adopted from the HTTP cache without new origin bytes', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site()
  const hero = '/media/photo-01.jpg'
  const context = await suite.browser().newContext()
  const page = await context.newPage()
  await page.goto(`${s.origin}/`) // the hero photo loads from the origin: no SW yet
  await waitForController(page)
  await page.evaluate(() => window.swarmcdn!.ready)
  const heroLength = s.prepared.build.manifest.assets.find((a) => a.path === hero)!.length
  assert.equal(await s.originBytes(hero), heroLength)
  for (let attempt = 0; ; attempt++) {
    if ((await fetchInPage(page, hero)).headers['x-swarmcdn-sources'] === 'store') break
    if (attempt > 30) assert.fail('the first page\'s hero photo was never adopted into the store')
    await page.waitForTimeout(100)
  }
  assert.equal(await s.originBytes(hero), heroLength, 'adopting cost the origin bytes')
  assert.equal((await fetchInPage(page, hero)).sha256, await s.sha256Of(hero))
  await context.close()
})
