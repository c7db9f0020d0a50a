// `swarmcdn seed` refuses files that do not match, keeps going (and says so) when the tracker is down,
// and exits cleanly on SIGTERM.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readFile, writeFile } from 'node:fs/promises'
import { execSync } from 'node:child_process'
import { runCli, tempDir, makeFixtureSite } from './helpers/cli.ts'
import { startCli } from '../e2e/helpers/processes.ts'

async function builtSite() {
  const dir = await tempDir()
  const site = join(dir, 'site')
  await makeFixtureSite(site)
  await runCli(['keygen', '--out', join(dir, 'k.pem')])
  const build = await runCli(['build', site, '--key', join(dir, 'k.pem')])
  assert.equal(build.code, 0, build.stderr)
  return site
}

test('seed refuses a site whose files do not match the manifest', async () => {
  const site = await builtSite()
  const file = join(site, 'media', 'photo one.jpg')
  const bytes = await readFile(file)
  bytes[5] ^= 1
  await writeFile(file, bytes)
  const run = await runCli(['seed', site])
  assert.equal(run.code, 1)
  assert.match(run.stderr, /verify failed: \/media\/photo%20one\.jpg: piece 0 does not match/)
})

test('seed with an unreachable tracker warns, keeps running, and stops cleanly on SIGTERM', { timeout: 30_000 }, async () => {
  const site = await builtSite()
  const seeder = await startCli(['seed', site, '--tracker', 'ws://127.0.0.1:9/'], /warning: .*(retrying)/)
  assert.equal(seeder.child.exitCode, null, 'seeder exited')
  const code = await seeder.stop()
  assert.equal(code, 0)
  assert.match(seeder.output(), /SIGTERM: shutting down/)
})

test('serve keeps serving when its seeder process crashes, and restarts the seeder', { timeout: 60_000 }, async () => {
  const site = await builtSite()
  const serve = await startCli(['serve', site, '--port', '0'], /open http:\/\/localhost:(\d+)\//)
  try {
    const origin = `http://127.0.0.1:${serve.match[1]}`
    const seederPid = Number(execSync(`pgrep -P ${serve.child.pid} -f seeder-child`).toString().trim().split('\n')[0])
    assert.ok(seederPid > 0, 'no seeder child process')
    process.kill(seederPid, 'SIGSEGV')
    for (let i = 0; !/seeder crashed \(SIGSEGV\); restarting it/.test(serve.output()); i++) {
      if (i > 100) assert.fail(`no restart reported:\n${serve.output()}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal((await fetch(`${origin}/index.html`)).status, 200, 'the origin went down with its seeder')
    for (let i = 0; (await (await fetch(`${origin}/__swarmcdn/seeder-stats`)).json()).torrents !== 2; i++) {
      if (i > 100) assert.fail('the seeder did not come back')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } finally {
    await serve.stop()
  }
})
