// ICE servers for real networks: the --ice-server syntax, the build's default, the manifest field,
// and reading the selected candidate pair of a connection.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { iceServersFromFlags, parseIceServer } from '../origin-tools/src/option-parsers.ts'
import { defaultIceServers, isLoopbackHost, PUBLIC_STUN_SERVERS } from '../origin-tools/src/commands/build.ts'
import { parseEnvelope } from '../core/manifest-format.ts'
import { selectedCandidatePair } from '../peer/selected-candidate-pair.ts'
import { runCli, tempDir, makeFixtureSite } from './helpers/cli.ts'

test('--ice-server: stun URLs, turn with USER:CREDENTIAL@, none', () => {
  assert.deepEqual(parseIceServer('stun:stun.example.com:3478'), { urls: 'stun:stun.example.com:3478' })
  assert.deepEqual(parseIceServer('stuns:stun.example.com'), { urls: 'stuns:stun.example.com' })
  assert.deepEqual(parseIceServer('turn:alice:s3cret@turn.example.com:3478?transport=udp'), { urls: 'turn:turn.example.com:3478?transport=udp', username: 'alice', credential: 's3cret' })
  // A TURN REST username holds a ':'; the credential is after the last one. Escapes are decoded.
  assert.deepEqual(parseIceServer('turns:1767225600:site:a%3Ab%40c@turn.example.com:5349'), { urls: 'turns:turn.example.com:5349', username: '1767225600:site', credential: 'a:b@c' })
  assert.equal(parseIceServer('none'), null)
  for (const bad of ['turn:turn.example.com:3478', 'turn:alice@turn.example.com', 'http://stun.example.com', 'stun:', 'stun:a b', 'stun:user:pw@host', 'turn:a:b@host?transport=sctp']) {
    assert.throws(() => parseIceServer(bad), /expected|needs a username/, bad)
  }
  assert.equal(iceServersFromFlags(undefined), undefined)
  assert.deepEqual(iceServersFromFlags([null]), [])
  assert.throws(() => iceServersFromFlags([null, { urls: 'stun:x' }]), /cannot be combined/)
})

test('the default: none for a site on loopback, the public STUN list otherwise', () => {
  for (const host of ['localhost', 'app.localhost', '127.0.0.1', '127.1.2.3', '[::1]']) assert.ok(isLoopbackHost(host), host)
  for (const host of ['example.com', '203.0.113.10', 'localhost.example.com', '10.0.0.1']) assert.ok(!isLoopbackHost(host), host)
  assert.deepEqual(defaultIceServers('http://localhost:8080/'), [])
  assert.deepEqual(defaultIceServers('https://www.example.com/'), PUBLIC_STUN_SERVERS)
  assert.ok(PUBLIC_STUN_SERVERS.length >= 2 && PUBLIC_STUN_SERVERS.every((s) => String(s.urls).startsWith('stun:')), 'PUBLIC_STUN_SERVERS.length >= 2 && PUBLIC_STUN_SERVERS.every((s) => String(s.urls).startsWith(\'stun:\'))')
})

async function build(args: string[]) {
  const dir = await tempDir()
  const site = join(dir, 'site')
  await makeFixtureSite(site)
  const key = join(dir, 'k.pem')
  assert.equal((await runCli(['keygen', '--out', key])).code, 0)
  const run = await runCli(['build', site, '--key', key, ...args])
  const manifestFile = join(site, 'swarmcdn/manifest.json')
  const manifest = run.code === 0 ? JSON.parse(parseEnvelope(await readFile(manifestFile, 'utf8')).manifest) : null
  return { run, manifest }
}

test('build writes --ice-server into the signed manifest; defaults by base URL; none leaves the field out', async () => {
  const explicit = await build(['--base-url', 'https://www.example.com/', '--ice-server', 'stun:stun.example.com:3478', '--ice-server', 'turn:u:p@turn.example.com:3478'])
  assert.equal(explicit.run.code, 0, explicit.run.stderr)
  assert.deepEqual(explicit.manifest.iceServers, [{ urls: 'stun:stun.example.com:3478' }, { urls: 'turn:turn.example.com:3478', username: 'u', credential: 'p' }])
  assert.match(explicit.run.stdout, /ICE servers: stun:stun\.example\.com:3478, turn:turn\.example\.com:3478/)

  const production = await build(['--base-url', 'https://www.example.com/'])
  assert.deepEqual(production.manifest.iceServers, PUBLIC_STUN_SERVERS)
  const local = await build([])
  assert.equal('iceServers' in local.manifest, false)
  const none = await build(['--base-url', 'https://www.example.com/', '--ice-server', 'none'])
  assert.equal('iceServers' in none.manifest, false)

  const bad = await build(['--ice-server', 'turn:turn.example.com'])
  assert.equal(bad.run.code, 2)
  assert.match(bad.run.stderr, /needs a username and a credential/)
})

test('the selected candidate pair from getStats (transport stats, or the nominated pair)', async () => {
  const report = (entries: object[]) => ({ getStats: async () => new Map(entries.map((e: any) => [e.id, e])) as unknown as RTCStatsReport })
  const candidates = [
    { id: 'L1', type: 'local-candidate', candidateType: 'host' },
    { id: 'L2', type: 'local-candidate', candidateType: 'srflx' },
    { id: 'R2', type: 'remote-candidate', candidateType: 'prflx' },
  ]
  const chromium = report([...candidates, { id: 'P1', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R2' }, { id: 'P2', type: 'candidate-pair', localCandidateId: 'L2', remoteCandidateId: 'R2' }, { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' }])
  assert.deepEqual(await selectedCandidatePair(chromium), { localCandidateType: 'srflx', remoteCandidateType: 'prflx' })
  const firefox = report([...candidates, { id: 'P1', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R2', nominated: true, state: 'succeeded' }])
  assert.deepEqual(await selectedCandidatePair(firefox), { localCandidateType: 'host', remoteCandidateType: 'prflx' })
  assert.equal(await selectedCandidatePair(report(candidates)), null)
})
