// Bad input gets one line that says what to do, a non-zero exit, and never a partial manifest.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { runCli, tempDir, makeFixtureSite, type CliRun } from './helpers/cli.ts'

function assertOneLineError(run: CliRun, pattern: RegExp) {
  assert.notEqual(run.code, 0, `expected failure, got ${run.code}: ${run.stdout}`)
  assert.match(run.stderr, pattern)
  const lines = run.stderr.trim().split('\n').filter((line) => !line.startsWith('(run with --help'))
  assert.equal(lines.length, 1, `more than one line: ${run.stderr}`)
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'stack trace printed')
}

async function fixture() {
  const dir = await tempDir()
  const site = join(dir, 'site')
  await makeFixtureSite(site)
  const key = join(dir, 'k.pem')
  assert.equal((await runCli(['keygen', '--out', key])).code, 0)
  return { dir, site, key, manifest: join(site, 'swarmcdn', 'manifest.json') }
}

test('a missing site or a file instead of a folder', async () => {
  const { dir, key } = await fixture()
  assertOneLineError(await runCli(['build', join(dir, 'nope'), '--key', key]), /site folder not found/)
  assertOneLineError(await runCli(['build', key, '--key', key]), /site must be a folder/)
})

test('an unreadable file (dangling symlink) and a symlink loop leave no manifest', async () => {
  const { site, key, manifest } = await fixture()
  await symlink(join(site, 'missing-target.bin'), join(site, 'broken.bin'))
  assertOneLineError(await runCli(['build', site, '--key', key]), /file not found: .*broken\.bin/)
  assert.equal(existsSync(manifest), false)
  await rm(join(site, 'broken.bin'))
  await mkdir(join(site, 'a'))
  await symlink('..', join(site, 'a', 'loop'))
  assertOneLineError(await runCli(['build', site, '--key', key]), /symlink loop/)
  assert.equal(existsSync(manifest), false)
})

test('missing, malformed and wrong-type keys', async () => {
  const { dir, site, manifest } = await fixture()
  assertOneLineError(await runCli(['build', site, '--key', join(dir, 'absent.pem')]), /key file not found.*swarmcdn keygen/)
  await writeFile(join(dir, 'garbage.pem'), 'not a key')
  assertOneLineError(await runCli(['build', site, '--key', join(dir, 'garbage.pem')]), /not a PEM private key/)
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' })
  await writeFile(join(dir, 'rsa.pem'), rsa)
  assertOneLineError(await runCli(['build', site, '--key', join(dir, 'rsa.pem')]), /rsa key; swarmcdn needs Ed25519/)
  assert.equal(existsSync(manifest), false)
  assertOneLineError(await runCli(['verify', site, '--pub', 'not-a-key']), /--pub must be a public key/)
})

test('an output that cannot be written keeps the previous manifest intact', async () => {
  const { site, key, manifest } = await fixture()
  assert.equal((await runCli(['build', site, '--key', key])).code, 0)
  const before = await readFile(manifest, 'utf8')
  // The torrents folder is a file now: writing torrents fails before the manifest is touched.
  await rm(join(site, 'swarmcdn', 'torrents'), { recursive: true })
  await writeFile(join(site, 'swarmcdn', 'torrents'), 'in the way')
  assertOneLineError(await runCli(['build', site, '--key', key]), /cannot write .*torrents/)
  assert.equal(await readFile(manifest, 'utf8'), before)
})

test('nonsensical flag values are refused before any work', async () => {
  const { site, key, manifest } = await fixture()
  const cases: Array<[string[], RegExp]> = [
    [['--min-size', '-1'], /expected a size in bytes/],
    [['--min-size', 'lots'], /expected a size in bytes/],
    [['--piece-length', '1000'], /power of two/],
    [['--piece-length', '128MiB'], /power of two/],
    [['--expires-in-days', '0'], /positive number/],
    [['--base-url', 'ftp://example.com/'], /http: or https:/],
    [['--base-url', 'not a url'], /absolute http\(s\) URL/],
    [['--tracker', 'http://tracker.example/'], /ws:\/\/ or wss:\/\//],
    [['--mirror', 'mirror'], /http\(s\) URL/],
    [['--sw-config', '{"storeBudget":1}'], /unknown setting "storeBudget"/],
  ]
  for (const [flags, pattern] of cases) {
    const run = await runCli(['build', site, '--key', key, ...flags])
    assertOneLineError(run, pattern)
    assert.equal(run.code, 2, 'usage errors exit 2')
  }
  assert.equal(existsSync(manifest), false)
  assertOneLineError(await runCli(['build', site]), /required option '--key/)
})

test('verify without a manifest says how to make one', async () => {
  const { site, key } = await fixture()
  const pub = (await runCli(['keygen', '--out', key + '.2'])).stdout.trim()
  assertOneLineError(await runCli(['verify', site, '--pub', pub]), /no manifest at .*swarmcdn build/)
})

test('every command has --help', async () => {
  for (const command of [[], ['keygen'], ['build'], ['verify']]) {
    const run = await runCli([...command, '--help'])
    assert.equal(run.code, 0)
    assert.match(run.stdout, /Usage: swarmcdn/)
  }
})
