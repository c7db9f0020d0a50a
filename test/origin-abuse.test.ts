// `swarmcdn serve`'s origin under abuse: junk paths, symlinks out of the site, `//host` paths, and
// visitor reports from other sites, fake ids and absurd numbers. A real `serve` on a real socket.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tempDir, makeFixtureSite } from './helpers/cli.ts'
import { runServe, type RunningServe } from '../origin-tools/src/commands/serve.ts'
import { createOriginServer } from '../origin-tools/src/origin/origin-server.ts'
import { listen } from '../origin-tools/src/listen.ts'
import { VisitorReports } from '../origin-tools/src/origin/visitor-reports.ts'

let serve: RunningServe
let site: string
let base: string

before(async () => {
  const dir = await tempDir()
  site = join(dir, 'site')
  await makeFixtureSite(site)
  // A secret outside the site, and links to it from inside; a link that stays inside is fine.
  await mkdir(join(dir, 'outside'))
  await writeFile(join(dir, 'outside', 'secret.txt'), 'not for the web')
  await symlink(join(dir, 'outside'), join(site, 'link'))
  await symlink(join(dir, 'outside', 'secret.txt'), join(site, 'secret.txt'))
  await symlink(join(site, 'small.css'), join(site, 'alias.css'))
  await mkdir(join(site, 'evil.example'))
  serve = await runServe({ siteDir: site, port: 0, host: '127.0.0.1', tracker: false, seed: false, iceServers: [], maxUploadBytesPerSec: -1, log: () => {} })
  base = `http://127.0.0.1:${serve.port}`
})
after(() => serve.close())

/** Raw request: node:http sends the path exactly as given (fetch would normalise `//host`). */
function raw(path: string, options: { method?: string; headers?: Record<string, string>; body?: string; port?: number } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: options.port ?? serve.port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

test('junk paths add nothing to origin-stats; real files are counted', async (t) => {
  const before = await raw('/__swarmcdn/origin-stats')
  for (let i = 0; i < 5000; i++) await raw(`/junk/${i}-${'x'.repeat(100)}`)
  const after = await raw('/__swarmcdn/origin-stats')
  const paths = Object.keys(JSON.parse(after.body).paths)
  t.diagnostic(`5,000 junk paths: stats reply ${before.body.length} → ${after.body.length} bytes, ${paths.length} paths`)
  assert.equal(paths.filter((p) => p.startsWith('/junk/')).length, 0)
  assert.ok(after.body.length < 2000, 'after.body.length < 2000')
  await raw('/small.css')
  assert.ok(JSON.parse((await raw('/__swarmcdn/origin-stats')).body).paths['/small.css'].bytes > 0, 'JSON.parse((await raw(\'/__swarmcdn/origin-stats\')).body).paths[\'/small.css\'].bytes > 0')
})

test('the per-path table is bounded: files beyond it share one entry', async () => {
  const server = createOriginServer({ siteDir: site, tracker: null, maxStatsPaths: 2 })
  const port = await listen(server.server, 0, '127.0.0.1')
  try {
    for (const path of ['/small.css', '/index.html', '/media/big.bin', '/alias.css']) await raw(path, { port, headers: { Range: 'bytes=0-9' } })
    const paths = server.counter.snapshot().paths
    assert.deepEqual(Object.keys(paths).sort(), ['(other paths)', '/index.html', '/small.css'])
    assert.equal(paths['(other paths)'].requests, 2)
  } finally {
    server.server.closeAllConnections()
    server.server.close()
  }
})

test('symlinks out of the site are not followed; links inside it are', async () => {
  assert.equal((await raw('/link/secret.txt')).status, 404)
  assert.equal((await raw('/secret.txt')).status, 404)
  assert.equal((await raw('/link/')).status, 404)
  const inside = await raw('/alias.css')
  assert.equal(inside.status, 200)
  assert.match(inside.body, /color/)
})

test('`//host/...` is a path of this site, never a host', async () => {
  // Before, `//x/small.css` was read as host "x" and path /small.css.
  assert.equal((await raw('//x/small.css')).status, 404)
  assert.equal((await raw('//x/__swarmcdn/origin-stats')).status, 404)
  // A directory redirect never becomes a protocol-relative URL to another site.
  const redirect = await raw('//evil.example')
  assert.equal(redirect.status, 301)
  assert.equal(redirect.headers.location, '/evil.example/')
})

const report = (visitorId: string, bytes = 1000) => JSON.stringify({ visitorId, bytes: { store: bytes, peers: bytes, http: bytes }, peers: 1, uploadedBytes: 0 })
const sameOrigin = () => ({ Origin: base, 'Content-Type': 'application/json' })
const post = (body: string, headers: Record<string, string>) => raw('/__swarmcdn/visitor-report', { method: 'POST', headers, body })

test('visitor reports: same-origin JSON only', async () => {
  assert.equal((await post(report('crosssite1'), { Origin: 'http://evil.example', 'Content-Type': 'application/json' })).status, 403)
  assert.equal((await post(report('noorigin1'), { 'Content-Type': 'application/json' })).status, 403)
  assert.equal((await post(report('formpost1'), { Origin: base, 'Content-Type': 'text/plain' })).status, 403)
  assert.equal((await post(report('crosssite2'), { ...sameOrigin(), 'Sec-Fetch-Site': 'cross-site' })).status, 403)
  assert.equal((await post(report('realvisitor1'), sameOrigin())).status, 204)
  assert.equal((await post('x'.repeat(100_000), sameOrigin())).status, 413)
})

test('visitor reports: fake ids cannot lock real visitors out, absurd numbers are refused', async (t) => {
  let accepted = 0
  for (let i = 0; i < 1100; i++) if ((await post(report(`fake${i}`), sameOrigin())).status === 204) accepted++
  const real = await post(report('realvisitor2'), sameOrigin())
  const snapshot = JSON.parse((await raw('/__swarmcdn/visitor-reports')).body)
  t.diagnostic(`1,100 fake ids from one address: ${snapshot.visitors} held; a real visitor then got ${real.status}`)
  assert.equal(real.status, 204)
  assert.ok(snapshot.byVisitor.realvisitor2, 'snapshot.byVisitor.realvisitor2')
  assert.ok(snapshot.visitors <= 16, `one address holds at most 16 visitor ids (${snapshot.visitors})`)
  for (const bytes of [1e300, Number.MAX_SAFE_INTEGER, -1, 1.5]) assert.equal((await post(report('poison1', bytes), sameOrigin())).status, 400, String(bytes))
  assert.equal((await post(report('../../etc'), sameOrigin())).status, 400)
})

test('visitor reports expire; an id cannot be overwritten from another address', () => {
  const reports = new VisitorReports({ reportTtlMs: 60_000 })
  assert.ok(reports.accept(report('visitorA'), 0, '10.0.0.1'), 'reports.accept(report(\'visitorA\'), 0, \'10.0.0.1\')')
  assert.equal(reports.accept(report('visitorA', 5), 1000, '10.0.0.2'), false)
  assert.equal(reports.snapshot(30_000).visitors, 1)
  assert.equal(reports.snapshot(61_001).visitors, 0)
  assert.equal(reports.snapshot(61_001).totals.http, 0)
})
