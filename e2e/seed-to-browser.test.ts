// A real Chromium page running the WebTorrent client downloads assets from `swarmcdn seed`
// over WebRTC, introduced by `swarmcdn tracker`; webseeds are off, so every byte comes from the seeder.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { runCli, tempDir, makeFixtureSite, REPO_ROOT } from '../test/helpers/cli.ts'
import { launchChromium, skipWithoutChromium } from './helpers/browser.ts'
import { startCli, type RunningProcess } from './helpers/processes.ts'
import { runServe } from '../origin-tools/src/commands/serve.ts'

const cleanups: Array<() => Promise<unknown>> = []
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
})

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>webtorrent probe</title>
<script type="module">
import WebTorrent from '/webtorrent.min.js'
window.downloadTorrent = async (torrentUrl) => {
  const client = new WebTorrent({ webSeeds: false, tracker: { rtcConfig: { iceServers: [] } } })
  const torrentFile = new Uint8Array(await (await fetch(torrentUrl)).arrayBuffer())
  const torrent = await new Promise((resolve) => client.add(torrentFile, resolve))
  if (!torrent.done) await new Promise((resolve, reject) => { torrent.once('done', resolve); torrent.once('error', reject) })
  const bytes = await (await torrent.files[0].blob()).arrayBuffer()
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  const result = { sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''), length: bytes.byteLength, received: torrent.received, peers: torrent.numPeers }
  client.destroy()
  return result
}
</script>`

test('Chromium downloads every asset from swarmcdn seed through swarmcdn tracker', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  const dir = await tempDir()
  const site = join(dir, 'site')
  const files = await makeFixtureSite(site)
  const trackerPort = await freePort()
  await runCli(['keygen', '--out', join(dir, 'k.pem')])
  const build = await runCli(['build', site, '--key', join(dir, 'k.pem'), '--json', '--tracker', `ws://127.0.0.1:${trackerPort}`])
  assert.equal(build.code, 0, build.stderr)
  const { assets } = JSON.parse(build.stdout)

  const tracker: RunningProcess = await startCli(['tracker', '--port', String(trackerPort), '--manifest', join(site, 'swarmcdn/manifest.json')], /tracker: ws:\/\//)
  cleanups.push(tracker.stop)
  const seeder: RunningProcess = await startCli(['seed', site], /seeding 2 assets/)
  cleanups.push(seeder.stop)
  // The seeder is listed in both swarms but makes no offers of its own (each would be an
  // RTCPeerConnection held for 50 s): browsers offer to it.
  const trackerStats = async () => JSON.parse(await (await fetch(`http://127.0.0.1:${trackerPort}/stats`)).text())
  // Two announces per torrent: 'started', then the follow-up that would carry offers.
  for (let i = 0; (await trackerStats()).announces < 4; i++) {
    if (i > 100) assert.fail('seeder never announced twice per torrent')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.equal((await trackerStats()).offers, 0, 'the seeder sent WebRTC offers')

  // The probe page lives on its own origin, next to the torrents and the prebuilt WebTorrent client.
  const pageDir = join(dir, 'page')
  await mkdir(pageDir)
  await writeFile(join(pageDir, 'index.html'), PAGE)
  await copyFile(join(REPO_ROOT, 'node_modules/webtorrent/dist/webtorrent.min.js'), join(pageDir, 'webtorrent.min.js'))
  for (const asset of assets) await copyFile(asset.torrent, join(pageDir, `${asset.infoHash}.torrent`))
  const pages = await runServe({ siteDir: pageDir, port: 0, host: '127.0.0.1', tracker: false, seed: false, iceServers: [], maxUploadBytesPerSec: -1, log: () => {} })
  cleanups.push(pages.close)

  const browser = await launchChromium()
  cleanups.push(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`http://127.0.0.1:${pages.port}/`)
  const expected: Record<string, Buffer> = { [assets[0].infoHash]: files.big, [assets[1].infoHash]: files.medium }
  for (const asset of assets) {
    const result = await page.evaluate((url) => (window as any).downloadTorrent(url), `/${asset.infoHash}.torrent`)
    assert.equal(result.length, asset.length)
    assert.equal(result.sha256, createHash('sha256').update(expected[asset.infoHash]).digest('hex'), `${asset.url}: bytes differ`)
    assert.ok(result.received >= asset.length, `received ${result.received} bytes over the wire`)
  }
  const stats = JSON.parse(await (await fetch(`http://127.0.0.1:${trackerPort}/stats`)).text())
  assert.equal(stats.swarms, 2)
})
