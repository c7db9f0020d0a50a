// A visitor whose browser has service workers but no WebRTC (WebKitGTK from Debian's packages, over
// classic WebDriver): the site comes through the service worker and HTTP, every byte right, P2P off
// with its reason, and nothing broken.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { launchWebKit, skipWithoutWebKit, type WebKitSession } from './helpers/webkit-driver.ts'
import { startDemoSite, type DemoSite } from './helpers/demo-site.ts'
import { galleryPaths } from './helpers/suite.ts'
import type { StatsSnapshot } from '../sw/asset-stats.ts'

const cleanups: Array<() => Promise<void>> = []
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

/** In the page: SHA-256, status and headers of a fetch (through the page's service worker). */
async function fetchDigest(path: string, headers: Record<string, string>) {
  const res = await fetch(path, { headers })
  const bytes = await res.arrayBuffer()
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
  return { status: res.status, sha256: hex, sources: res.headers.get('x-swarmcdn-sources'), contentRange: res.headers.get('content-range') }
}

/** In the page: waits until the swarmcdn SW controls it, then for window.swarmcdn.ready. */
async function controlledAndReady() {
  for (let i = 0; i < 200 && !navigator.serviceWorker.controller?.scriptURL.endsWith('/swarmcdn-sw.js'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    controlled: !!navigator.serviceWorker.controller?.scriptURL.endsWith('/swarmcdn-sw.js'),
    ready: await window.swarmcdn!.ready,
    webrtc: typeof RTCPeerConnection !== 'undefined',
  }
}

/** In the page: true when every image finished and decoded. */
async function imagesShown() {
  for (let i = 0; i < 600 && !Array.from(document.images).every((img) => img.complete); i++) await new Promise((resolve) => setTimeout(resolve, 100))
  return document.images.length > 0 && Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0)
}

/** In the page: the SW's offload counters (sw/asset-stats.ts). */
function swStatsInPage() {
  return new Promise<StatsSnapshot>((resolve) => {
    const channel = new MessageChannel()
    channel.port1.onmessage = (event) => resolve(event.data.stats)
    navigator.serviceWorker.controller!.postMessage({ type: 'swarmcdn:get-stats' }, [channel.port2])
  })
}

test('WebKit without WebRTC: the site comes through the SW and HTTP, byte-exact, P2P off with reason no-webrtc', { skip: skipWithoutWebKit, timeout: 120_000 }, async () => {
  const s: DemoSite = await startDemoSite({ seed: false })
  cleanups.push(() => s.close())
  const webkit: WebKitSession = await launchWebKit()
  cleanups.push(() => webkit.close())

  await webkit.navigate(`${s.origin}/`)
  const first = await webkit.run(controlledAndReady)
  assert.equal(first.webrtc, false, 'this WebKit has RTCPeerConnection: the test would prove nothing')
  assert.ok(first.controlled, 'the SW never controlled the page')
  assert.deepEqual(first.ready, { p2p: false, reason: 'no-webrtc' })

  await webkit.navigate(`${s.origin}/gallery.html`)
  assert.ok(await webkit.run(imagesShown), 'gallery images failed to load')
  assert.deepEqual(await webkit.run(() => window.swarmcdn!.ready), { p2p: false, reason: 'no-webrtc' })
  // No peer agent was even downloaded.
  assert.deepEqual(await webkit.run(() => performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('swarmcdn-agent'))), [])
  for (const path of galleryPaths(s)) {
    const requests = async () => (await webkit.run(swStatsInPage)).assets[path]?.requests ?? 0
    const before = await requests()
    const result = await webkit.run(fetchDigest, path, {})
    assert.equal(result.status, 200, path)
    assert.equal(result.sha256, await s.sha256Of(path), `${path}: bytes differ from the file`)
    // A cold whole-file response may be the origin's own, untouched (no X-Swarmcdn-Sources): the SW's count tells.
    assert.equal(await requests(), before + 1, `${path} did not come through the SW`)
    assert.ok(!result.sources?.includes('peers'), `${path}: peer bytes without WebRTC? ${result.sources}`)
  }

  // Range requests, byte-exact, through the SW.
  const video = '/media/city-lights.webm'
  const file = await readFile(join(s.prepared.siteDir, video))
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
  for (const [range, start, end] of [['bytes=1000000-1300000', 1000000, 1300000], ['bytes=-5000', file.length - 5000, file.length - 1]] as const) {
    const result = await webkit.run(fetchDigest, video, { Range: range })
    assert.equal(result.status, 206, range)
    assert.equal(result.contentRange, `bytes ${start}-${end}/${file.length}`)
    assert.equal(result.sha256, sha(file.subarray(start, end + 1)), `${range}: bytes differ`)
    assert.ok(result.sources, `${range} did not come through the SW`)
  }

  // The video seeks through the SW (the media element's own Range requests).
  await webkit.navigate(`${s.origin}/film.html`)
  const videoRequests = async () => (await webkit.run(swStatsInPage)).assets[video]?.requests ?? 0
  const requestsBefore = await videoRequests()
  const seek = await webkit.run(() => new Promise<{ currentTime: number; duration: number }>((resolve, reject) => {
    const film = document.getElementById('film') as HTMLVideoElement
    film.muted = true
    film.addEventListener('error', () => reject(new Error(`video error ${film.error?.code}`)))
    const go = () => {
      film.addEventListener('seeked', () => resolve({ currentTime: film.currentTime, duration: film.duration }), { once: true })
      film.currentTime = 9
    }
    if (film.readyState >= 1) go()
    else film.addEventListener('loadedmetadata', go, { once: true })
  }))
  assert.ok(seek.duration > 10 && Math.abs(seek.currentTime - 9) < 1, JSON.stringify(seek))
  assert.ok((await videoRequests()) > requestsBefore, 'the video element\'s requests did not reach the SW')

  const bytes = (await webkit.run(swStatsInPage)).totals.bytes
  assert.equal(bytes.peers, 0)
  assert.ok(bytes.http > 0, `nothing over HTTP? ${JSON.stringify(bytes)}`)
  const stats = await webkit.run(() => window.swarmcdn!.stats())
  assert.equal(stats.p2p, false)
  assert.equal(stats.peers, 0)

  // A reload is served from the store: the origin sends no asset bytes (once background writes are done).
  for (const path of galleryPaths(s)) {
    for (let attempt = 0; (await webkit.run(fetchDigest, path, {})).sources !== 'store'; attempt++) {
      assert.ok(attempt < 40, `${path} was never stored`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const originBefore = await s.originBytes()
  await webkit.navigate(`${s.origin}/gallery.html`)
  assert.ok(await webkit.run(imagesShown), 'gallery images failed to load after the reload')
  assert.equal(await s.originBytes(), originBefore, 'the reload fetched asset bytes from the origin')
  console.log(`# WebKit visitor, SW bytes by source: ${JSON.stringify(bytes)}`)
})
