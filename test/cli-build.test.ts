// The real CLI: keygen, build (determinism, sequence, --json) and verify, end to end on disk.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, writeFile, readdir } from 'node:fs/promises'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import parseTorrent from 'parse-torrent'
import { runCli, tempDir, makeFixtureSite, REPO_ROOT } from './helpers/cli.ts'
import { parseEnvelope } from '../core/manifest-format.ts'

async function siteWithKey() {
  const dir = await tempDir()
  const site = join(dir, 'site')
  const files = await makeFixtureSite(site)
  const key = join(dir, 'signing.pem')
  const keygen = await runCli(['keygen', '--out', key])
  assert.equal(keygen.code, 0, keygen.stderr)
  return { dir, site, key, publicKey: keygen.stdout.trim(), files }
}

test('keygen writes a 0600 PKCS#8 key, prints the public key, and never overwrites', async () => {
  const { key, publicKey } = await siteWithKey()
  assert.match(publicKey, /^[A-Za-z0-9+/]{43}=$/)
  assert.equal((await stat(key)).mode & 0o777, 0o600)
  assert.match(await readFile(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----/)
  const before = await readFile(key, 'utf8')
  const again = await runCli(['keygen', '--out', key])
  assert.equal(again.code, 1)
  assert.match(again.stderr, /already exists/)
  assert.equal(await readFile(key, 'utf8'), before)
})

test('build --json prints one JSON object; assets above --min-size become torrents', async () => {
  const { site, key, publicKey } = await siteWithKey()
  const run = await runCli(['build', site, '--key', key, '--json'])
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.stderr, '')
  const out = JSON.parse(run.stdout)
  assert.equal(out.publicKey, publicKey)
  assert.deepEqual(out.assets.map((a: any) => a.url), ['http://localhost:8080/media/big.bin', 'http://localhost:8080/media/photo%20one.jpg'])
  for (const asset of out.assets) {
    const torrent = await parseTorrent(await readFile(join(REPO_ROOT, asset.torrent)).catch(() => readFile(asset.torrent)))
    assert.equal(torrent.infoHash, asset.infoHash)
    assert.deepEqual(torrent.urlList, [asset.url])
    assert.deepEqual(torrent.announce, ['ws://localhost:8080/__swarmcdn/tracker'])
    assert.equal(torrent.length, asset.length)
  }
  const envelope = parseEnvelope(await readFile(join(site, 'swarmcdn/manifest.json'), 'utf8'))
  assert.equal(envelope.signature, out.signature)
  assert.deepEqual(JSON.parse(envelope.manifest).trackers, ['/__swarmcdn/tracker'])
})

test('build --json stays clean under npm run --silent', async () => {
  const { site, key } = await siteWithKey()
  const npm = spawnSync('npm', ['run', '--silent', 'swarmcdn', '--', 'build', site, '--key', key, '--json'], { cwd: REPO_ROOT, encoding: 'utf8' })
  assert.equal(npm.status, 0, npm.stderr)
  assert.equal(JSON.parse(npm.stdout).assets.length, 2)
})

test('same bytes give the same infohashes and torrent bytes; the sequence grows', async () => {
  const { site, key } = await siteWithKey()
  const first = JSON.parse((await runCli(['build', site, '--key', key, '--json'])).stdout)
  const torrentsFirst = await Promise.all(first.assets.map((a: any) => readFile(a.torrent)))
  const second = JSON.parse((await runCli(['build', site, '--key', key, '--json'])).stdout)
  const torrentsSecond = await Promise.all(second.assets.map((a: any) => readFile(a.torrent)))
  assert.deepEqual(second.assets.map((a: any) => a.infoHash), first.assets.map((a: any) => a.infoHash))
  assert.deepEqual(torrentsSecond, torrentsFirst)
  assert.ok(second.sequence > first.sequence, `sequence ${second.sequence} after ${first.sequence}`)

  // A different key, another folder, same bytes: same infohash (nothing machine- or run-specific in info).
  const other = await siteWithKey()
  await writeFile(join(other.site, 'media', 'big.bin'), await readFile(join(site, 'media', 'big.bin')))
  const third = JSON.parse((await runCli(['build', other.site, '--key', other.key, '--json'])).stdout)
  assert.equal(third.assets[0].infoHash, first.assets[0].infoHash)
})

test('build honours --piece-length, --min-size, --base-url and --tracker', async () => {
  const { site, key } = await siteWithKey()
  const run = await runCli(['build', site, '--key', key, '--json', '--piece-length', '32KiB', '--min-size', '1MB', '--base-url', 'https://cdn.example/blog', '--tracker', 'wss://t1.example/', '--tracker', '/__swarmcdn/tracker'])
  assert.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout)
  assert.equal(out.assets.length, 1)
  assert.equal(out.assets[0].pieceLength, 32768)
  assert.equal(out.assets[0].url, 'https://cdn.example/blog/media/big.bin')
  const torrent = await parseTorrent(await readFile(out.assets[0].torrent))
  assert.deepEqual(torrent.announce, ['wss://t1.example/', 'wss://cdn.example/__swarmcdn/tracker'])
  const manifest = JSON.parse(parseEnvelope(await readFile(join(site, 'swarmcdn/manifest.json'), 'utf8')).manifest)
  assert.equal(manifest.scope, '/blog/')
  assert.equal(manifest.assets[0].path, '/blog/media/big.bin')
})

test('verify passes on a fresh build and names the first failure after tampering', async () => {
  const { site, key, publicKey } = await siteWithKey()
  assert.equal((await runCli(['build', site, '--key', key])).code, 0)
  const ok = await runCli(['verify', site, '--pub', publicKey])
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /^ok: signature valid/)

  const other = (await runCli(['keygen', '--out', join(site, '..', 'other.pem')])).stdout.trim()
  const wrongKey = await runCli(['verify', site, '--pub', other])
  assert.equal(wrongKey.code, 1)
  assert.match(wrongKey.stderr, /manifest-signature-invalid/)

  const big = join(site, 'media', 'big.bin')
  const bytes = await readFile(big)
  bytes[700_000] ^= 0xff
  await writeFile(big, bytes)
  const tampered = await runCli(['verify', site, '--pub', publicKey])
  assert.equal(tampered.code, 1)
  assert.match(tampered.stderr, /\/media\/big\.bin: piece 10 does not match/)

  await writeFile(big, bytes.subarray(0, 1000))
  const truncated = await runCli(['verify', site, '--pub', publicKey])
  assert.match(truncated.stderr, /size is 1000/)
})

test('the human summary reports hashing speed', async () => {
  const { site, key } = await siteWithKey()
  const run = await runCli(['build', site, '--key', key])
  assert.equal(run.code, 0)
  assert.match(run.stdout, /hashed [\d.]+ MiB in [\d.]+ s \(\d+ MB\/s\)/)
  assert.match(run.stdout, /public key: /)
})

test('kill switch builds a signed manifest with killSwitch true', async () => {
  const { site, key, publicKey } = await siteWithKey()
  assert.equal((await runCli(['build', site, '--key', key, '--kill-switch'])).code, 0)
  const manifest = JSON.parse(parseEnvelope(await readFile(join(site, 'swarmcdn/manifest.json'), 'utf8')).manifest)
  assert.equal(manifest.killSwitch, true)
  assert.equal((await runCli(['verify', site, '--pub', publicKey])).code, 0)
  assert.deepEqual((await readdir(join(site, 'swarmcdn/torrents'))).length, 2)
})

test('large HTML stays plain HTTP; text assets get a charset', async () => {
  const { site, key } = await siteWithKey()
  await writeFile(join(site, 'huge-page.html'), '<p>' + 'x'.repeat(400_000))
  await writeFile(join(site, 'big-style.css'), 'b{}'.repeat(100_000))
  const out = JSON.parse((await runCli(['build', site, '--key', key, '--json'])).stdout)
  const urls = out.assets.map((a: any) => a.url)
  assert.ok(!urls.some((u: string) => u.endsWith('.html')), 'an HTML page became a P2P asset')
  const manifest = JSON.parse(parseEnvelope(await readFile(join(site, 'swarmcdn/manifest.json'), 'utf8')).manifest)
  assert.equal(manifest.assets.find((a: any) => a.path === '/big-style.css').type, 'text/css; charset=utf-8')
})
