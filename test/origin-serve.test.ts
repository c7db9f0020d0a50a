// `swarmcdn serve`'s origin: HTTP semantics byte for byte, SW headers, byte counting, tracker policy.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { request } from 'node:http'
import WebSocket from 'ws'
import { runCli, tempDir, makeFixtureSite } from './helpers/cli.ts'
import { runServe, type RunningServe } from '../origin-tools/src/commands/serve.ts'

let serve: RunningServe
let big: Buffer
let site: string
let infoHashes: string[]
const quiet = () => {}

before(async () => {
  const dir = await tempDir()
  site = join(dir, 'site')
  ;({ big } = await makeFixtureSite(site))
  await writeFile(join(site, 'swarmcdn-sw.js'), '// stand-in service worker\n')
  await runCli(['keygen', '--out', join(dir, 'k.pem')])
  const build = await runCli(['build', site, '--key', join(dir, 'k.pem'), '--json'])
  infoHashes = JSON.parse(build.stdout).assets.map((a: any) => a.infoHash)
  serve = await runServe({ siteDir: site, port: 0, host: '127.0.0.1', tracker: true, seed: false, iceServers: [], maxUploadBytesPerSec: -1, log: quiet })
})
after(() => serve.close())

const url = (path: string) => new URL(path, serve.url.replace('localhost', '127.0.0.1')).href

// node:http, not fetch: fetch turns conditional requests into no-cache ones (Fetch spec), hiding 304s.
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ res: { status: number; headers: Map<string, string> }; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url(path), { method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk) => chunks.push(chunk))
      res.on('end', () => {
        const map = new Map(Object.entries(res.headers).map(([k, v]) => [k, String(v)]))
        resolve({ res: { status: res.statusCode!, headers: map }, body: Buffer.concat(chunks) })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

test('Range requests return exactly the requested bytes', async () => {
  const len = big.length
  const cases: Array<[string, number, number]> = [
    ['bytes=0-0', 0, 0],
    ['bytes=0-99', 0, 99],
    ['bytes=500000-700000', 500000, 700000],
    ['bytes=-1000', len - 1000, len - 1],
    ['bytes=1400000-', 1400000, len - 1],
    [`bytes=${len - 10}-${len + 500}`, len - 10, len - 1],
  ]
  for (const [range, start, end] of cases) {
    const { res, body } = await get('/media/big.bin', { Range: range })
    assert.equal(res.status, 206, range)
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${len}`)
    assert.equal(Number(res.headers.get('content-length')), end - start + 1)
    assert.ok(body.equals(big.subarray(start, end + 1)), `bytes differ for ${range}`)
  }
  const whole = await get('/media/big.bin')
  assert.equal(whole.res.status, 200)
  assert.equal(whole.res.headers.get('accept-ranges'), 'bytes')
  assert.ok(whole.body.equals(big), 'whole.body.equals(big)')
})

test('past the end is 416 with the length; HEAD has headers only', async () => {
  const { res } = await get('/media/big.bin', { Range: `bytes=${big.length}-` })
  assert.equal(res.status, 416)
  assert.equal(res.headers.get('content-range'), `bytes */${big.length}`)
  const head = await get('/media/big.bin', {}, 'HEAD')
  assert.equal(head.res.status, 200)
  assert.equal(Number(head.res.headers.get('content-length')), big.length)
  assert.equal(head.body.length, 0)
})

test('ETag: If-None-Match gives 304, If-Range matches or falls back to 200', async () => {
  const first = await get('/media/photo%20one.jpg')
  const etag = first.res.headers.get('etag')!
  assert.ok(etag, 'etag')
  assert.equal(first.res.headers.get('content-type'), 'image/jpeg')
  assert.equal((await get('/media/photo%20one.jpg', { 'If-None-Match': etag })).res.status, 304)
  const matching = await get('/media/photo%20one.jpg', { Range: 'bytes=10-19', 'If-Range': etag })
  assert.equal(matching.res.status, 206)
  const stale = await get('/media/photo%20one.jpg', { Range: 'bytes=10-19', 'If-Range': '"stale"' })
  assert.equal(stale.res.status, 200)
  assert.equal(stale.body.length, first.body.length)
})

test('the service worker script may control the whole origin and is not cached stale', async () => {
  const { res } = await get('/swarmcdn-sw.js')
  assert.equal(res.headers.get('service-worker-allowed'), '/')
  assert.equal(res.headers.get('cache-control'), 'no-cache')
  assert.match(res.headers.get('content-type')!, /javascript/)
  assert.equal((await get('/nope.bin')).res.status, 404)
})

test('origin-stats counts the body bytes served per path and per client address', async () => {
  const before = await (await fetch(url('/__swarmcdn/origin-stats'))).json()
  await get('/media/big.bin', { Range: 'bytes=0-1233' })
  await get('/index.html')
  const after = await (await fetch(url('/__swarmcdn/origin-stats'))).json()
  const delta = (path: string) => (after.paths[path]?.bytes ?? 0) - (before.paths[path]?.bytes ?? 0)
  assert.equal(delta('/media/big.bin'), 1234)
  assert.ok(delta('/index.html') > 10, 'delta(\'/index.html\') > 10')
  assert.equal(after.totalBytes - before.totalBytes, delta('/media/big.bin') + delta('/index.html'))
  const client = (stats: any) => stats.clients['127.0.0.1']?.bytes ?? 0
  assert.equal(client(after) - client(before), after.totalBytes - before.totalBytes)
})

test('origin-requests logs each file request: Range, status, bytes, and whether it completed', async () => {
  const { nextId } = await (await fetch(url('/__swarmcdn/origin-requests?after=999999999'))).json()
  await get('/media/big.bin', { Range: 'bytes=10-19' })
  const log = await (await fetch(url(`/__swarmcdn/origin-requests?after=${nextId - 1}`))).json()
  const mine = log.requests.filter((r: any) => r.path === '/media/big.bin')
  assert.equal(mine.length, 1)
  assert.equal(mine[0].range, 'bytes=10-19')
  assert.equal(mine[0].status, 206)
  assert.match(mine[0].contentRange, /^bytes 10-19\//)
  assert.equal(mine[0].bytes, 10)
  assert.equal(mine[0].aborted, false)
  assert.ok(mine[0].endMs >= mine[0].startMs, 'mine[0].endMs >= mine[0].startMs')
})

function announce(infoHashHex: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url('/__swarmcdn/tracker').replace('http', 'ws'))
    ws.on('error', reject)
    ws.on('open', () => ws.send(JSON.stringify({
      action: 'announce', event: 'started', numwant: 0, uploaded: 0, downloaded: 0, left: 1,
      info_hash: Buffer.from(infoHashHex, 'hex').toString('latin1'),
      peer_id: '-SW0001-' + 'abcdefghijkl',
      offers: [],
    })))
    ws.on('message', (data) => {
      resolve(JSON.parse(data.toString()))
      ws.close()
    })
  })
}

test('the tracker admits the manifest\'s infohashes and refuses others with a reason', async () => {
  const admitted = await announce(infoHashes[0])
  assert.equal(admitted['failure reason'], undefined)
  assert.equal(admitted.action, 'announce')
  const refused = await announce('ab'.repeat(20))
  assert.match(refused['failure reason'], /not in this site's manifest/)
  const stats = await (await fetch(url('/__swarmcdn/tracker-stats'))).json()
  assert.ok(stats.refusedInfoHash >= 1, 'stats.refusedInfoHash >= 1')
})

test('a rebuild while serving: the tracker admits the new build\'s infohashes', { timeout: 20_000 }, async () => {
  await writeFile(join(site, 'media', 'added-later.bin'), Buffer.alloc(400_000, 7))
  const build = await runCli(['build', site, '--key', join(site, '..', 'k.pem'), '--json'])
  assert.equal(build.code, 0, build.stderr)
  const added = JSON.parse(build.stdout).assets.find((a: any) => a.url.endsWith('added-later.bin')).infoHash
  for (let attempt = 0; ; attempt++) {
    const reply = await announce(added)
    if (reply['failure reason'] === undefined) break
    if (attempt > 40) assert.fail(`new infohash still refused: ${reply['failure reason']}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
})

test('a port in use is a one-line error', async () => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  const port = (blocker.address() as any).port
  const run = await runCli(['serve', site, '--port', String(port), '--no-seed'])
  blocker.close()
  assert.equal(run.code, 1)
  assert.match(run.stderr, new RegExp(`port ${port} on 127.0.0.1 is in use`))
})
