// swarmcdn as a site installs it: `npm pack` here, then in a fresh project that knows nothing of this
// repository a plain `npm install` (no flags, no allowScripts, no overrides), `npx swarmcdn keygen`,
// a real `vite build` through `swarmcdn/vite`, `npx swarmcdn build`, `verify` and `serve`, the API
// and its types, and a real Chromium visitor that gets the site's assets through the service worker.

import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT, tempDir } from '../test/helpers/cli.ts'
import { launchChromium, skipWithoutChromium } from './helpers/browser.ts'
import { fetchInPage, swStats, waitForController } from './helpers/demo-site.ts'

const cleanups: Array<() => Promise<unknown>> = []
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
})

// The user's shell, not ours: `npm test` exports npm_* variables (its prefix among them) that would
// point a nested npm at this repository.
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'INIT_CWD'))
const repoPackage = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'))

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env: userEnv, encoding: 'utf8', timeout: 180_000 })
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`)
  return result
}

const lastLines = (text: string, n: number) => text.trimEnd().split('\n').slice(-n).join('\n')
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

test('packed swarmcdn installs with plain npm install and works from npx, its API and swarmcdn/vite', { skip: skipWithoutChromium, timeout: 300_000 }, async (t) => {
  const dir = await tempDir('swarmcdn-packed-')
  cleanups.push(() => rm(dir, { recursive: true, force: true }))

  // The tarball, as `npm publish` would make it (prepack builds dist/).
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], REPO_ROOT).stdout)[0]
  const shipped: string[] = packed.files.map((file: { path: string }) => file.path)
  t.diagnostic(`tarball ${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${shipped.length} files`)
  for (const path of shipped) assert.match(path, /^(dist\/|docs\/|README\.md$|package\.json$)/, `${path} should not be in the package`)
  for (const path of ['dist/node/cli.js', 'dist/node/index.js', 'dist/node/index.d.ts', 'dist/node/vite.js', 'dist/node/vite.d.ts', 'dist/swarmcdn-sw.js', 'dist/swarmcdn.js']) {
    assert.ok(shipped.includes(path), `${path} missing from the package`)
  }

  // A site with its own build (Vite) that adds swarmcdn: one plain `npm install`.
  const project = join(dir, 'site-project')
  await mkdir(join(project, 'public/media'), { recursive: true })
  await writeFile(join(project, 'package.json'), JSON.stringify({
    name: 'packed-site',
    private: true,
    type: 'module',
    dependencies: { swarmcdn: `file:../${packed.filename}` },
    devDependencies: { vite: repoPackage.devDependencies.vite, typescript: repoPackage.devDependencies.typescript },
  }, null, 2))
  const install = run('npm', ['install'], project)
  t.diagnostic(`node ${run('node', ['--version'], project).stdout.trim()}, npm ${run('npm', ['--version'], project).stdout.trim()}; npm install, last lines:\n${lastLines(install.stdout + install.stderr, 10)}`)
  assert.doesNotMatch(install.stdout + install.stderr, /EBADENGINE|ERR!/, 'npm install complained')
  const installed = spawnSync('du', ['-sk', 'node_modules/swarmcdn', 'node_modules/@roamhq'], { cwd: project, encoding: 'utf8' }).stdout
  t.diagnostic(`installed (KiB): ${installed.trim().replace(/\n/g, ', ')}`)
  const tree = JSON.parse(run('npm', ['ls', '--all', '--omit=dev', '--json'], project).stdout)
  assert.deepEqual(Object.keys(tree.dependencies.swarmcdn.dependencies ?? {}).sort(), Object.keys({ ...repoPackage.dependencies, ...repoPackage.peerDependencies }).sort(), 'swarmcdn pulled in more than its declared dependencies')

  const npx = (args: string[]) => run('npx', ['swarmcdn', ...args], project)
  const publicKey = npx(['keygen', '--out', 'keys/site.pem']).stdout.trim()
  assert.match(publicKey, /^[A-Za-z0-9+/]{43}=$/)

  // The site: a Vite page and two large files in public/ (Vite copies them into dist/).
  const big = randomBytes(1_500_000)
  const clip = randomBytes(600_000)
  await writeFile(join(project, 'public/media/big.bin'), big)
  await writeFile(join(project, 'public/media/clip.bin'), clip)
  await writeFile(join(project, 'index.html'), '<!doctype html><meta charset="utf-8"><title>packed site</title><h1 id="title">packed site</h1><script type="module" src="/main.js"></script>\n')
  await writeFile(join(project, 'main.js'), "document.querySelector('#title').dataset.ready = 'yes'\n")
  await writeFile(join(project, 'vite.config.js'), [
    "import { writeFileSync } from 'node:fs'",
    "import { swarmcdn } from 'swarmcdn/vite'",
    "export default { plugins: [swarmcdn({ keyFile: 'keys/site.pem', onBuilt: (result) => writeFileSync('vite-swarmcdn.json', JSON.stringify(result)) })] }",
    '',
  ].join('\n'))
  run('npx', ['vite', 'build'], project)
  const fromVite = JSON.parse(await readFile(join(project, 'vite-swarmcdn.json'), 'utf8'))
  assert.deepEqual(fromVite.assets.map((a: { url: string }) => a.url).sort(), ['http://localhost:8080/media/big.bin', 'http://localhost:8080/media/clip.bin'])
  assert.match(await readFile(join(project, 'dist/index.html'), 'utf8'), /<script src="\/swarmcdn\.js" async><\/script>/, 'the plugin did not add the loader to the page')

  // The CLI over Vite's output: a new sequence, the same assets.
  const fromCli = JSON.parse(npx(['build', 'dist', '--key', 'keys/site.pem', '--json']).stdout)
  assert.ok(fromCli.sequence > fromVite.sequence, 'fromCli.sequence > fromVite.sequence')
  assert.deepEqual(fromCli.assets, fromVite.assets)
  assert.equal(fromCli.publicKey, publicKey)
  assert.match(npx(['verify', 'dist', '--pub', publicKey]).stdout, /^ok: signature valid/)

  // The API, as a build script would use it, and its types as a TypeScript build would see them.
  await writeFile(join(project, 'api-check.mjs'), [
    "import { build, verify } from 'swarmcdn'",
    "const built = await build({ siteDir: 'dist', keyFile: 'keys/site.pem' })",
    `const verified = await verify({ siteDir: 'dist', publicKey: '${publicKey}' })`,
    "let usage = null",
    "try { await build({ siteDir: 'dist', keyFile: 'keys/site.pem', minSizeBytes: 'lots' }) } catch (error) { usage = error.code }",
    'console.log(JSON.stringify({ built, verified, usage }))',
    '',
  ].join('\n'))
  const api = JSON.parse(run('node', ['api-check.mjs'], project).stdout)
  assert.deepEqual(Object.keys(api.built), Object.keys(fromCli))
  assert.deepEqual(api.built.assets, fromCli.assets)
  assert.ok(api.built.sequence > fromCli.sequence, 'api.built.sequence > fromCli.sequence')
  assert.equal(api.verified.sequence, api.built.sequence)
  assert.equal(api.verified.verifiedBytes, big.length + clip.length)
  assert.equal(api.usage, 'usage')
  await writeFile(join(project, 'types-check.ts'), [
    "import { build, verify, type BuildJson } from 'swarmcdn'",
    "import { swarmcdn } from 'swarmcdn/vite'",
    "const built: BuildJson = await build({ siteDir: 'dist', keyFile: 'k.pem', minSizeBytes: '1MB', trackers: ['wss://t.example/'] })",
    'const sequence: number = built.sequence',
    "const bytes: number = (await verify({ siteDir: 'dist', publicKey: built.publicKey })).verifiedBytes",
    "// @ts-expect-error keyFile is required",
    "await build({ siteDir: 'dist' })",
    "// @ts-expect-error sequence is a number",
    'const wrong: string = built.sequence',
    "export const plugins = [swarmcdn({ keyFile: 'k.pem', injectLoader: false })]",
    'export { sequence, bytes, wrong }',
    '',
  ].join('\n'))
  run('npx', ['tsc', '--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', 'types-check.ts'], project)

  // serve: origin, tracker and the seeder (WebRTC from @roamhq/wrtc) from the installed package.
  const serve = spawn('npx', ['swarmcdn', 'serve', 'dist', '--port', '0', '--host', '127.0.0.1'], { cwd: project, env: userEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  cleanups.push(async () => {
    if (serve.exitCode !== null) return
    const exited = new Promise((resolve) => serve.once('exit', resolve))
    process.kill(-serve.pid!, 'SIGTERM')
    await exited
  })
  let serveOutput = ''
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${serveOutput}`)), 60_000)
    const onData = (chunk: Buffer) => {
      serveOutput += chunk.toString()
      const match = /open (http:\/\/\S+?)\/?\s/.exec(serveOutput)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    serve.stdout.on('data', onData)
    serve.stderr.on('data', onData)
    serve.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${serveOutput}`)))
  })
  assert.match(serveOutput, /seeding 2 assets/, serveOutput)
  // The seeder child reports once a second.
  const seederStats = async () => (await fetch(`${origin}/__swarmcdn/seeder-stats`)).json()
  for (let i = 0; (await seederStats()).torrents !== 2; i++) {
    if (i === 100) assert.fail(`the seeder never reported its 2 torrents: ${JSON.stringify(await seederStats())}\n${serveOutput}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  const browser = await launchChromium()
  cleanups.push(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${origin}/`)
  assert.equal(await page.locator('#title').getAttribute('data-ready'), 'yes', 'Vite\'s bundle did not run')
  await waitForController(page)
  for (const [path, bytes] of [['/media/big.bin', big], ['/media/clip.bin', clip]] as const) {
    const result = await fetchInPage(page, path)
    assert.equal(result.status, 200)
    assert.equal(result.sha256, sha256(bytes), `${path}: bytes differ`)
    assert.ok(result.headers['x-swarmcdn-sources'], `${path} did not come through the service worker: ${JSON.stringify(result.headers)}`)
  }
  const totals = (await swStats(page)).stats.totals
  t.diagnostic(`visitor's service worker: ${totals.requests} requests, bytes ${JSON.stringify(totals.bytes)}; seeder ${JSON.stringify(await seederStats())}`)
  assert.equal(totals.bytes.store + totals.bytes.peers + totals.bytes.http, big.length + clip.length)
  // The only peer is serve's seeder: peer bytes mean the installed package's WebRTC (@roamhq/wrtc) works.
  assert.ok(totals.bytes.peers > 0, `the seeder delivered nothing over WebRTC: ${JSON.stringify(totals.bytes)}\n${serveOutput}`)
})
