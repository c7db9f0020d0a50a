// Offload between real visitors: separate Chromium contexts, real WebRTC, the real tracker of
// `swarmcdn serve` (no seeder here, so every peer byte comes from another visitor).

import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { launchChromium, skipWithoutChromium } from './helpers/browser.ts'
import { browserSuite, imagesLoaded, galleryPaths } from './helpers/suite.ts'
import { fetchInPage, swStats } from './helpers/demo-site.ts'
import { arrive, storedEverything, galleryFromPeer, GALLERY_PEER_BUDGET_MS } from './helpers/scenarios.ts'
import { startScriptedSeeder } from './helpers/scripted-seeder.ts'
import { SW_CONFIG_DEFAULTS } from '../sw/config.ts'

const suite = browserSuite()
const site = suite.site

test('visitor B gets at least 90% of the gallery\'s bytes from visitor A', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  await galleryFromPeer(await site({ swConfig: { peerBudgetMs: GALLERY_PEER_BUDGET_MS } }), suite.open, suite.open)
})

test('a peer that serves corrupted pieces: no altered byte reaches the page, the peer is dropped, assets load', { skip: skipWithoutChromium, timeout: 180_000 }, async (t) => {
  const s = await site()
  const liar = await startScriptedSeeder(s.prepared.siteDir, s.prepared.build.manifest, galleryPaths(s), `ws://127.0.0.1:${s.serve.port}/__swarmcdn/tracker`, { corrupt: true, maxUploadBytesPerSec: -1 })
  try {
    const b = await arrive(suite.open, s)
    await b.goto(`${s.origin}/gallery.html`)
    assert.ok(await imagesLoaded(b), 'images failed to load')
    for (const path of galleryPaths(s)) assert.equal((await fetchInPage(b, path)).sha256, await s.sha256Of(path), `${path}: altered bytes reached the page`)
    const stats = await b.evaluate(() => window.swarmcdn!.stats())
    const liarStats = await liar.stats()
    assert.ok(liarStats.uploadedBytes > 0, 'the liar never got to send anything: the test proves nothing')
    if (liarStats.diedOf) t.diagnostic(`the liar's process died (${liarStats.diedOf}) after sending ${liarStats.uploadedBytes} B`)
    assert.ok(stats.rejectedPieces >= 1, `no bad piece detected: ${JSON.stringify(stats)}`)
    assert.ok(stats.bannedPeers >= 1, `liar not banned: ${JSON.stringify(stats)}`)
    await b.waitForFunction(async () => (await window.swarmcdn!.stats()).peers === 0, null, { timeout: 15_000 })
    const sw = (await swStats(b)).stats.totals.bytes
    assert.equal(sw.peers, 0, 'bytes credited to peers although the only peer lied')
  } finally {
    await liar.close()
  }
})

test('a trickling peer that holds every photo does not delay the page beyond the latency budget', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  const s = await site() // the default latency budget
  const budgetMs = SW_CONFIG_DEFAULTS.peerBudgetMs
  const gallery = `${s.origin}/gallery.html`
  const timeToImages = async (page: Page) => {
    const started = Date.now()
    await page.goto(gallery)
    assert.ok(await imagesLoaded(page), 'images failed to load')
    return Date.now() - started
  }
  // Plain HTTP, same origin, same run: the time the page may not exceed by more than the budget.
  const plainContext = await suite.browser().newContext({ serviceWorkers: 'block' })
  await timeToImages(await plainContext.newPage()) // warms the origin's file cache and the browser
  const plainMs = await timeToImages(await plainContext.newPage())
  await plainContext.close()

  // Honest bytes, 32 KiB/s: the gallery's ~10 MB would take it minutes.
  const trickler = await startScriptedSeeder(s.prepared.siteDir, s.prepared.build.manifest, galleryPaths(s), `ws://127.0.0.1:${s.serve.port}/__swarmcdn/tracker`, { corrupt: false, maxUploadBytesPerSec: 32 * 1024 })
  try {
    const b = await arrive(suite.open, s)
    await b.waitForFunction(async () => (await window.swarmcdn!.stats()).peers >= 1, null, { timeout: 20_000 })
    const swarmcdnMs = await timeToImages(b)
    const sw = (await swStats(b)).stats.totals.bytes
    const note = `plain HTTP ${plainMs} ms, with the trickling peer ${swarmcdnMs} ms (budget ${budgetMs} ms); B's SW: ${JSON.stringify(sw)}`
    console.log(`# ${note}`)
    assert.ok((await trickler.stats()).uploadedBytes > 0, `the trickling peer was never asked: the test proves nothing (${note})`)
    // Waiting on the peer would take minutes; the slack is for this shared machine's noise.
    assert.ok(swarmcdnMs <= plainMs + budgetMs + 5_000, `the trickling peer delayed the page: ${note}`)
    for (const path of galleryPaths(s)) assert.equal((await fetchInPage(b, path)).sha256, await s.sha256Of(path), `${path}: B's bytes differ`)
  } finally {
    await trickler.close()
  }
})

test('a crowd of four asking at once: each fetches different pieces from the origin and they trade them', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  // The long budget as in the gallery test: on loopback the origin is far faster than WebRTC.
  const s = await site({ swConfig: { peerBudgetMs: 10_000 } })
  const galleryBytes = s.prepared.build.manifest.assets.filter((x) => x.path.endsWith('.jpg')).reduce((sum, x) => sum + x.length, 0)
  const crowd = await Promise.all([0, 1, 2, 3].map(() => arrive(suite.open, s)))
  await Promise.all(crowd.map((page) => page.waitForFunction(async () => (await window.swarmcdn!.stats()).peers >= 3, null, { timeout: 30_000 })))
  type Bytes = { store: number; peers: number; http: number }
  const swBytes = () => Promise.all(crowd.map(async (page) => (await swStats(page)).stats.totals.bytes as Bytes))
  const originBefore = await s.originBytes()
  const before = await swBytes()
  // The connected crowd asks for the whole gallery at once, on the pages it is on. (Navigating all four
  // at once measured how fast new agents reconnect on a loaded 2-core machine as much as the sharing:
  // a visitor still connecting when its requests came fetched alone; 2.48 copies in one CI run.)
  const paths = galleryPaths(s)
  await Promise.all(crowd.map((page) => page.evaluate((paths) => {
    for (const path of paths) document.body.append(Object.assign(document.createElement('img'), { src: path }))
  }, paths)))
  for (const page of crowd) assert.ok(await imagesLoaded(page), 'images failed to load')
  const originForCrowd = (await s.originBytes()) - originBefore
  // On the gallery alone (each visitor's first page already stored its hero photo).
  const bytes = (await swBytes()).map((after, i) => ({ store: after.store - before[i]!.store, peers: after.peers - before[i]!.peers, http: after.http - before[i]!.http }))
  const fetched = bytes.reduce((sum, b) => sum + b.peers + b.http, 0)
  const note = `crowd of ${crowd.length}, gallery ${galleryBytes} B each, ${fetched} B fetched in all: origin served ${originForCrowd} B (${(originForCrowd / galleryBytes).toFixed(2)} copies); per visitor ${JSON.stringify(bytes)}`
  console.log(`# ${note}`)
  // Trading, not four parallel downloads: measured 1.6-1.9 copies from the origin, 44-46% of what the
  // crowd fetched (navigating together instead: 2.2-2.5 copies, and 3.2 before each took its own share
  // first); on loopback the origin is far faster than WebRTC, so not one.
  assert.ok(fetched >= 0.8 * crowd.length * galleryBytes, `too little was fetched for the test to mean anything: ${note}`)
  assert.ok(originForCrowd <= 0.7 * fetched, `the origin served more than 70%: ${note}`)
  assert.ok(bytes.filter((b) => b.peers > 0).length >= crowd.length / 2, `most visitors got nothing from the crowd: ${note}`)
  for (const [i, page] of crowd.entries()) {
    for (const path of galleryPaths(s)) assert.equal((await fetchInPage(page, path)).sha256, await s.sha256Of(path), `${path}: visitor ${i + 1}'s bytes differ`)
  }
})

test('the tracker down: every asset still loads, from HTTP', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site({ tracker: false })
  const page = await arrive(suite.open, s)
  await page.goto(`${s.origin}/gallery.html`)
  assert.ok(await imagesLoaded(page), 'images failed to load')
  for (const path of galleryPaths(s)) {
    const result = await fetchInPage(page, path)
    assert.equal(result.sha256, await s.sha256Of(path))
  }
  const sw = (await swStats(page)).stats.totals.bytes
  assert.ok(sw.http >= galleryPaths(s).length * 1_000_000, `expected HTTP bytes: ${JSON.stringify(sw)}`)
})

test('three visitors and a video: B and C play and seek, playback works, origin bytes stay low', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  // On loopback the origin is far faster than WebRTC, so only the latency budget lets peers serve at
  // all (see the gallery test); two viewers arriving together on a busy 2-core machine also need more
  // than the default second to connect.
  const s = await site({ swConfig: { peerBudgetMs: 10_000 } })
  const video = s.prepared.build.manifest.assets.find((x) => x.path.endsWith('.webm'))!
  const a = await arrive(suite.open, s)
  await a.goto(`${s.origin}/film.html`)
  await storedEverything(a, [video.path]) // A watched it all and keeps the page open

  const originBefore = await s.originBytes(video.path)
  const viewers = await Promise.all(['B', 'C'].map(async () => {
    const page = await arrive(suite.open, s)
    await page.goto(`${s.origin}/film.html`)
    return page
  }))
  await Promise.all(viewers.map((page) => page.evaluate(() => new Promise<void>((resolve, reject) => {
    const film = document.getElementById('film') as HTMLVideoElement
    film.muted = true
    film.addEventListener('error', () => reject(new Error(`video error ${film.error?.code}`)))
    film.play().then(() => {
      film.addEventListener('seeked', () => resolve(), { once: true })
      film.currentTime = 7
    }, reject)
  }))))
  // Playback goes on after the seek: time advances past the seek point.
  for (const page of viewers) {
    await page.waitForFunction(() => (document.getElementById('film') as HTMLVideoElement).currentTime > 8, null, { timeout: 20_000 })
  }
  const originForViewers = (await s.originBytes(video.path)) - originBefore
  const swReplies = await Promise.all(viewers.map((page) => swStats(page)))
  const peerBytes = swReplies.map((reply) => reply.stats.totals.bytes.peers)
  // Where a slow run waited (a CI run took 23 s and the origin served 81%): each viewer's agent, and
  // its service worker's timeline apart from requests, in ms after the first entry.
  const agents = await Promise.all(viewers.map((page) => page.evaluate(() => window.swarmcdn!.stats())))
  const timelines = swReplies.map((reply) => {
    const trace = (reply.trace ?? []) as Array<[number, string, string, number, number]>
    const start = trace[0]?.[0] ?? 0
    return trace.filter(([, event]) => !event.startsWith('request')).map(([at, event, , first, last]) => `${at - start} ${event} ${first}-${last}`).slice(-30).join('; ')
  })
  const diagnosis = viewers.map((_, i) => `viewer ${i + 1}: ${agents[i]!.peers} peers, piece requests ${agents[i]!.transfers?.requests} (stalled ${agents[i]!.transfers?.stalls}); timeline: ${timelines[i]}`).join(' | ')
  console.log(`# video ${video.length} B: origin served B and C ${originForViewers} B; peer bytes ${peerBytes.join(', ')}; ${diagnosis}`)
  assert.ok(originForViewers <= 0.2 * video.length, `origin served ${originForViewers} B of a ${video.length} B video to B and C; ${diagnosis}`)
  for (const bytes of peerBytes) assert.ok(bytes > 0, 'a viewer got nothing from peers')
})

test('a page with many P2P assets keeps its peer connections under the cap', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  const count = 16
  const extraFiles: Record<string, Uint8Array> = {}
  for (let i = 0; i < count; i++) extraFiles[`many/part-${String(i).padStart(2, '0')}.bin`] = new Uint8Array(300_000).map((_, j) => (i * 31 + j * 7) & 0xff)
  const paths = Object.keys(extraFiles).map((p) => `/${p}`)
  const s = await site({ extraFiles })
  const fetchAll = (page: Page) => page.evaluate(async (list) => { for (const path of list) await (await fetch(path)).arrayBuffer() }, paths)

  const a = await arrive(suite.open, s)
  await fetchAll(a)
  const b = await arrive(suite.open, s)
  // Connected before it fetches: otherwise, on a busy machine, every fetch may beat the connection.
  await b.waitForFunction(async () => (await window.swarmcdn!.stats()).peers >= 1, null, { timeout: 20_000 })
  let maxPeers = 0
  let maxSwarms = 0
  const sampler = setInterval(async () => {
    const stats = await b.evaluate(() => window.swarmcdn!.stats()).catch(() => null)
    if (stats) [maxPeers, maxSwarms] = [Math.max(maxPeers, stats.peers), Math.max(maxSwarms, stats.swarms)]
  }, 100)
  await fetchAll(b)
  clearInterval(sampler)
  const final = await b.evaluate(() => window.swarmcdn!.stats())
  maxPeers = Math.max(maxPeers, final.peers)
  maxSwarms = Math.max(maxSwarms, final.swarms)
  console.log(`# ${count} assets: B's peers peaked at ${maxPeers}, swarms at ${maxSwarms}; B got ${final.bytes.peers} B from peers`)
  // One site swarm whatever the number of assets; with one other visitor, one connection.
  assert.ok(maxSwarms <= 6, `swarms ${maxSwarms} grew with the number of assets`)
  assert.ok(maxPeers <= 6, `peer connections ${maxPeers} grew with the number of assets`)
  assert.ok(final.bytes.peers > 0, 'no P2P happened at all: the cap test proves nothing')
  for (const path of paths.slice(0, 3)) assert.equal((await fetchInPage(b, path)).sha256, await s.sha256Of(path))
})

test('a visitor who opts out runs no agent, is remembered, and is not waited for', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const s = await site()
  const page = await arrive(suite.open, s)
  await page.evaluate(() => window.swarmcdn!.optOut())
  await page.goto(`${s.origin}/gallery.html`)
  assert.deepEqual(await page.evaluate(() => window.swarmcdn!.ready), { p2p: false, reason: 'opt-out' })
  assert.ok(await imagesLoaded(page), 'images failed to load')
  const stats = await page.evaluate(() => window.swarmcdn!.stats())
  assert.equal(stats.p2p, false)
  assert.equal(stats.peers, 0)
  assert.equal((await swStats(page)).stats.totals.bytes.peers, 0)
  await page.evaluate(() => window.swarmcdn!.optIn())
  await page.reload()
  assert.deepEqual(await page.evaluate(() => window.swarmcdn!.ready), { p2p: true })
})

test('a page restored from the back/forward cache starts its agent again, and serves the next visitor', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  const s = await site({ swConfig: { peerBudgetMs: 10_000 } })
  const galleryBytes = s.prepared.build.manifest.assets.filter((x) => x.path.endsWith('.jpg')).reduce((sum, x) => sum + x.length, 0)
  const withCache = await launchChromium({ backForwardCache: true })
  after(() => withCache.close())
  const a = await arrive(() => withCache.newPage(), s)
  await a.goto(`${s.origin}/gallery.html`)
  assert.ok(await imagesLoaded(a), 'images failed to load')
  await storedEverything(a, galleryPaths(s))
  // A leaves the gallery for the home page and comes back: the gallery page itself is restored (its
  // agent stopped on pagehide, so its peer connections did not keep it out of the cache).
  await a.evaluate(() => window.addEventListener('pageshow', (event) => ((window as unknown as { __restored: boolean }).__restored = event.persisted)))
  // Chromium says why a page was not restored.
  const cdp = await a.context().newCDPSession(a)
  await cdp.send('Page.enable')
  const notRestored: string[] = []
  cdp.on('Page.backForwardCacheNotUsed', (event) => notRestored.push(...event.notRestoredExplanations.map((explanation) => explanation.reason)))
  await a.goto(`${s.origin}/`)
  // A restored page fires pageshow, not load.
  await a.goBack({ waitUntil: 'commit' })
  await a.waitForFunction(() => (window as unknown as { __restored?: boolean }).__restored !== undefined || document.readyState === 'complete', null, { timeout: 20_000 })
  assert.equal(await a.evaluate(() => (window as unknown as { __restored?: boolean }).__restored), true, `the gallery page was not restored from the back/forward cache: ${notRestored.join(', ')}`)
  assert.deepEqual(await a.evaluate(() => window.swarmcdn!.ready), { p2p: true })

  // The restored page is A's only page: what B gets from peers, its agent served.
  const b = await arrive(suite.open, s)
  const originBefore = await s.originBytes()
  await b.goto(`${s.origin}/gallery.html`)
  assert.ok(await imagesLoaded(b), 'images failed to load')
  const originForB = (await s.originBytes()) - originBefore
  const bytes = (await swStats(b)).stats.totals.bytes
  const fetched = galleryBytes - bytes.store
  const note = `gallery ${galleryBytes} B: origin served B ${originForB} B; B's SW: ${JSON.stringify(bytes)}`
  console.log(`# ${note}`)
  assert.ok(bytes.peers >= 0.9 * fetched, `less than 90% from the restored page's agent: ${note}`)
  for (const path of galleryPaths(s)) assert.equal((await fetchInPage(b, path)).sha256, await s.sha256Of(path), `${path}: B's bytes differ`)
})
