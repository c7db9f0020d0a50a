// A standard BitTorrent client (aria2) downloads each built asset through the torrent's url-list
// from a plain web server: proof the torrents are ordinary BEP 3 + BEP 19 torrents.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync, spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import send from 'send'
import { runCli, tempDir, makeFixtureSite } from './helpers/cli.ts'

const hasAria2 = spawnSync('aria2c', ['--version']).status === 0

test('aria2 downloads every asset via url-list from a plain static server', { skip: hasAria2 ? false : 'aria2c not installed (.ci/run installs it)', timeout: 60_000 }, async () => {
  const dir = await tempDir()
  const site = join(dir, 'site')
  const files = await makeFixtureSite(site)
  const server = createServer((req, res) => send(req, decodeURIComponent(new URL(req.url!, 'http://x').pathname), { root: site }).pipe(res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as AddressInfo
    await runCli(['keygen', '--out', join(dir, 'k.pem')])
    const build = await runCli(['build', site, '--key', join(dir, 'k.pem'), '--json', '--base-url', `http://127.0.0.1:${port}/`])
    assert.equal(build.code, 0, build.stderr)
    const { assets } = JSON.parse(build.stdout)
    const expected: Record<string, Buffer> = { 'big.bin': files.big, 'photo one.jpg': files.medium }
    for (const asset of assets) {
      const out = join(dir, 'download-' + asset.infoHash)
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn('aria2c', [
          '--dir', out, '--seed-time=0', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
          '--enable-peer-exchange=false', '--bt-stop-timeout=30', '--summary-interval=0', '--console-log-level=error',
          '--check-integrity=true', asset.torrent,
        ], { stdio: 'ignore' })
        child.on('close', resolve)
      })
      assert.equal(code, 0, `aria2c failed for ${asset.url}`)
      const name = decodeURIComponent(asset.url.split('/').pop())
      assert.ok((await readFile(join(out, name))).equals(expected[name]), `${name} differs`)
    }
  } finally {
    server.close()
  }
})

test('WebTorrent (Node) downloads every asset via url-list too: the WebTorrent ecosystem reads the torrents', { timeout: 60_000 }, async () => {
  const { default: WebTorrent } = await import('webtorrent')
  const dir = await tempDir()
  const site = join(dir, 'site')
  const files = await makeFixtureSite(site)
  const server = createServer((req, res) => send(req, decodeURIComponent(new URL(req.url!, 'http://x').pathname), { root: site }).pipe(res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = new WebTorrent({ dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, tracker: false, torrentPort: 0 })
  try {
    const { port } = server.address() as AddressInfo
    await runCli(['keygen', '--out', join(dir, 'k.pem')])
    const build = await runCli(['build', site, '--key', join(dir, 'k.pem'), '--json', '--base-url', `http://127.0.0.1:${port}/`, '--tracker', 'ws://127.0.0.1:9/unused'])
    assert.equal(build.code, 0, build.stderr)
    const { assets } = JSON.parse(build.stdout)
    const expected: Record<string, Buffer> = { 'big.bin': files.big, 'photo one.jpg': files.medium }
    for (const asset of assets) {
      const out = join(dir, 'wt-' + asset.infoHash)
      const torrent = client.add(await readFile(asset.torrent), { path: out, announce: [] })
      await new Promise<void>((resolve, reject) => {
        torrent.once('done', () => resolve())
        torrent.once('error', reject)
      })
      const name = decodeURIComponent(asset.url.split('/').pop())
      assert.ok((await readFile(join(out, name))).equals(expected[name]), `${name} differs`)
    }
  } finally {
    await new Promise<void>((resolve) => client.destroy(() => resolve()))
    server.close()
  }
})
