// The browser bundles build, stay under their size budgets, and a bundle over budget fails the build.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from './helpers/temp-dir.ts'
import { CLIENT_BUNDLES, bundleClients } from '../origin-tools/src/client-bundles.ts'

test('every bundle builds within its budget; the SW carries no Node leftovers', async () => {
  const outDir = await tempDir('swarmcdn-bundles-')
  const reports = await bundleClients({ outDir })
  assert.deepEqual(reports.map((r) => r.file).sort(), CLIENT_BUNDLES.map((b) => b.file).sort())
  for (const report of reports) assert.ok(report.bytes > 1000 && report.bytes <= report.budgetBytes, `${report.file}: ${report.bytes} B`)
  const sw = await readFile(join(outDir, 'swarmcdn-sw.js'), 'utf8')
  assert.doesNotMatch(sw, /require\(["']node:/)
  const loader = await readFile(join(outDir, 'swarmcdn.js'), 'utf8')
  assert.doesNotMatch(loader, /WebTorrent|webtorrent/i, 'the one-line include must not carry the WebTorrent client')
})

test('a bundle over its budget fails the build with a message naming it', async () => {
  const outDir = await tempDir('swarmcdn-bundles-')
  const tight = CLIENT_BUNDLES.filter((b) => b.file === 'swarmcdn-sw.js').map((b) => ({ ...b, budgetBytes: 1024 }))
  await assert.rejects(bundleClients({ outDir, bundles: tight }), /swarmcdn-sw\.js is \d+ bytes, over its budget of 1024/)
})
