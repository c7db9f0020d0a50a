// `swarmcdn build` refuses to sign what visitors would refuse, and to publish its own key.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, rename, symlink, writeFile, access } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli, tempDir, makeFixtureSite } from './helpers/cli.ts'

async function site() {
  const dir = await tempDir()
  const siteDir = join(dir, 'site')
  await makeFixtureSite(siteDir)
  const key = join(dir, 'k.pem')
  assert.equal((await runCli(['keygen', '--out', key])).code, 0)
  return { dir, siteDir, key }
}

const exists = (path: string) => access(path).then(() => true, () => false)

test('--min-size 0: empty files stay plain HTTP, and the signed manifest verifies', async () => {
  const { siteDir, key } = await site()
  await writeFile(join(siteDir, 'empty.txt'), '')
  const build = await runCli(['build', siteDir, '--key', key, '--min-size', '0', '--json'])
  assert.equal(build.code, 0, build.stderr)
  const paths = JSON.parse(build.stdout).assets.map((a: any) => a.url)
  assert.ok(!paths.some((url: string) => url.endsWith('/empty.txt')), 'no 0-byte asset')
  assert.ok(paths.some((url: string) => url.endsWith('/small.css')), 'small files are assets with --min-size 0')
  const verify = await runCli(['verify', siteDir, '--pub', JSON.parse(build.stdout).publicKey])
  assert.equal(verify.code, 0, verify.stderr)
})

test('a manifest the service worker would refuse is not signed, and the previous one stays', async () => {
  const { siteDir, key } = await site()
  assert.equal((await runCli(['build', siteDir, '--key', key])).code, 0)
  const before = await runCli(['verify', siteDir, '--pub', key])
  const run = await runCli(['build', siteDir, '--key', key, '--expires-in-days', '0.000000001'])
  assert.equal(run.code, 1)
  assert.match(run.stderr, /refusing to sign a manifest every service worker would refuse: expiresAt must be after issuedAt/)
  assert.equal((await runCli(['verify', siteDir, '--pub', key])).stdout, before.stdout, 'the previous manifest is intact')
})

test('a signing key inside the site folder, or linked from it, is refused before anything is written', async () => {
  for (const place of ['keys/site.pem', '.keys/site.pem', 'site.pem']) {
    const { siteDir, key } = await site()
    const inside = join(siteDir, place)
    await mkdir(join(inside, '..'), { recursive: true })
    await rename(key, inside)
    const run = await runCli(['build', siteDir, '--key', inside])
    assert.equal(run.code, 1, place)
    assert.match(run.stderr, /is inside the site folder, where it would be published/)
    assert.equal(await exists(join(siteDir, 'swarmcdn', 'manifest.json')), false)
  }
  const { siteDir, key } = await site()
  await symlink(key, join(siteDir, 'media', 'key.pem'))
  const run = await runCli(['build', siteDir, '--key', key])
  assert.equal(run.code, 1)
  assert.match(run.stderr, /linked from the site as media\/key\.pem/)
})
