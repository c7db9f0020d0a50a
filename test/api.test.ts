// The programmatic API (origin-tools/src/api.ts) and the Vite plugin, from source: build() returns what
// `build --json` prints, options take the CLI's checks, errors carry codes; a real Vite build signs its output.
// e2e/packed-install.test.ts runs the same through the published package.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { build as viteBuild } from 'vite'
import { build, keygen, verify } from '../origin-tools/src/api.ts'
import { swarmcdn } from '../origin-tools/src/vite-plugin.ts'
import { makeFixtureSite, runCli, tempDir } from './helpers/cli.ts'

async function fixture() {
  const dir = await tempDir()
  const site = join(dir, 'site')
  const files = await makeFixtureSite(site)
  const keyFile = join(dir, 'key.pem')
  const { publicKey } = await keygen({ out: keyFile })
  return { dir, site, files, keyFile, publicKey }
}

test('build() resolves to what `swarmcdn build --json` prints for the same site', async () => {
  const { site, keyFile, publicKey } = await fixture()
  const fromCli = await runCli(['build', site, '--key', keyFile, '--json', '--min-size', '256KiB', '--tracker', 'wss://tracker.example/'])
  assert.equal(fromCli.code, 0, fromCli.stderr)
  const cli = JSON.parse(fromCli.stdout)
  const api = await build({ siteDir: site, keyFile, minSizeBytes: '256KiB', trackers: ['wss://tracker.example/'] })
  assert.deepEqual(Object.keys(api), Object.keys(cli))
  // The CLI ran in the repository, this process may not: compare paths by their site-relative tail.
  const tail = (path: string) => path.slice(path.indexOf('site/'))
  const strip = (asset: typeof api.assets[number]) => ({ ...asset, path: tail(asset.path), torrent: tail(asset.torrent) })
  assert.deepEqual(api.assets.map(strip), cli.assets.map(strip))
  assert.equal(api.publicKey, publicKey)
  assert.equal(api.sequence, cli.sequence + 1)
  assert.equal(tail(api.manifest), tail(cli.manifest))
})

test('verify() checks every byte and names the first failure with code verify-failed', async () => {
  const { site, keyFile, publicKey, files } = await fixture()
  const built = await build({ siteDir: site, keyFile })
  const verified = await verify({ siteDir: site, publicKey })
  assert.equal(verified.sequence, built.sequence)
  assert.equal(verified.verifiedBytes, files.big.length + files.medium.length)
  assert.deepEqual(verified.assets.map((a) => a.infoHash).sort(), built.assets.map((a) => a.infoHash).sort())

  const tampered = Buffer.from(files.big)
  tampered[700_000] ^= 0xff
  await writeFile(join(site, 'media/big.bin'), tampered)
  await assert.rejects(verify({ siteDir: site, publicKey }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'verify-failed')
    assert.match(error.message, /\/media\/big\.bin: piece \d+ does not match its hash/)
    return true
  })
})

test('options get the CLI\'s checks; errors carry codes', async () => {
  const { site, keyFile, dir } = await fixture()
  const usage = async (options: Parameters<typeof build>[0], pattern: RegExp) =>
    assert.rejects(build(options), (error: Error & { code?: string }) => error.code === 'usage' && pattern.test(error.message))
  await usage({ siteDir: site, keyFile, minSizeBytes: 'lots' }, /^minSizeBytes: expected a size/)
  await usage({ siteDir: site, keyFile, pieceLength: 100_000 }, /^pieceLength: expected a power of two/)
  await usage({ siteDir: site, keyFile, trackers: ['http://tracker.example/'] }, /^trackers\[0\]: expected a ws:\/\//)
  await usage({ siteDir: site, keyFile, baseUrl: 'example.com' }, /^baseUrl: expected an absolute/)
  await usage({ siteDir: site, keyFile, swConfig: { noSuchSetting: 1 } }, /^swConfig: unknown setting/)
  await usage({ siteDir: site } as never, /^keyFile: required/)
  await assert.rejects(build({ siteDir: site, keyFile: join(dir, 'missing.pem') }), { code: 'key-not-found' })
  await assert.rejects(keygen({ out: keyFile }), { code: 'key-exists' })
  await assert.rejects(verify({ siteDir: site, publicKey: 'not-a-key' }), { code: 'key-not-found' })
})

test('the Vite plugin signs a real Vite build\'s output and adds the loader under Vite\'s base', { timeout: 60_000 }, async () => {
  const { dir, keyFile, publicKey } = await fixture()
  const root = join(dir, 'vite-site')
  await mkdir(join(root, 'public/video'), { recursive: true })
  const video = Buffer.alloc(400_000, 7)
  await writeFile(join(root, 'public/video/clip.webm'), video)
  await writeFile(join(root, 'index.html'), '<!doctype html><title>vite site</title><script type="module" src="/main.js"></script>\n')
  await writeFile(join(root, 'main.js'), "document.title += ' (bundled)'\n")
  let built: Awaited<ReturnType<typeof build>> | undefined
  await viteBuild({
    root,
    base: '/app/',
    configFile: false,
    logLevel: 'silent',
    plugins: [swarmcdn({ keyFile, baseUrl: 'https://www.example.com/app/', onBuilt: (result) => (built = result) })],
  })
  assert.ok(built, 'onBuilt was not called')
  assert.deepEqual(built.assets.map((a) => a.url), ['https://www.example.com/app/video/clip.webm'])
  assert.equal(built.publicKey, publicKey)
  const html = await readFile(join(root, 'dist/index.html'), 'utf8')
  assert.match(html, /<script src="\/app\/swarmcdn\.js" async><\/script>/)
  assert.match(html, /<script type="module" crossorigin src="\/app\/assets\/[^"]+\.js"><\/script>/, 'Vite did not bundle the page')
  const verified = await verify({ siteDir: join(root, 'dist'), publicKey })
  assert.equal(verified.sequence, built.sequence)
  assert.equal(verified.verifiedBytes, video.length)
  for (const file of ['swarmcdn.js', 'swarmcdn-sw.js', 'swarmcdn-agent.js']) await readFile(join(root, 'dist', file))
})
