// A signed manifest: every field and every byte is covered by the signature; time and sequence rules hold.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign, verify, createHash } from 'node:crypto'
import { encodeEnvelope, parseEnvelope, validateManifest, ManifestError, MANIFEST_FORMAT, type Manifest } from '../core/manifest-format.ts'
import { verifySignedManifest } from '../core/verify-signed-manifest.ts'

const { privateKey, publicKey } = generateKeyPairSync('ed25519')
const verifySignature = async (message: Uint8Array, signature: Uint8Array) => verify(null, message, publicKey, signature)
const NOW = Date.parse('2026-11-25T00:00:00Z')

function sampleManifest(): Manifest {
  const pieces = Buffer.concat([createHash('sha1').update('a').digest(), createHash('sha1').update('b').digest()]).toString('base64')
  return {
    format: MANIFEST_FORMAT,
    scope: '/',
    sequence: 7,
    issuedAt: '2026-11-24T00:00:00.000Z',
    expiresAt: '2026-12-24T00:00:00.000Z',
    trackers: ['/__swarmcdn/tracker', 'wss://tracker.example/'],
    mirrors: ['https://mirror.example/'],
    killSwitch: false,
    assets: [{ path: '/media/a.bin', length: 100_000, type: 'application/octet-stream', pieceLength: 65536, pieces, infoHash: 'a'.repeat(40) }],
  }
}

function signed(manifest: Manifest): string {
  const text = JSON.stringify(manifest)
  return encodeEnvelope(text, sign(null, Buffer.from(text), privateKey).toString('base64'))
}

test('a correctly signed manifest verifies and round-trips', async () => {
  const manifest = sampleManifest()
  assert.deepEqual(await verifySignedManifest(signed(manifest), { verifySignature, nowMs: NOW }), manifest)
})

test('changing any field after signing fails the signature', async () => {
  const original = sampleManifest()
  const envelope = parseEnvelope(signed(original))
  const tampers: Array<[string, (m: any) => void]> = [
    ['format', (m) => (m.format = 'swarmcdn-manifest/2')],
    ['scope', (m) => (m.scope = '/other/')],
    ['sequence', (m) => (m.sequence = 8)],
    ['issuedAt', (m) => (m.issuedAt = '2026-11-24T00:00:01.000Z')],
    ['expiresAt', (m) => (m.expiresAt = '2027-12-24T00:00:00.000Z')],
    ['trackers', (m) => m.trackers.push('wss://evil.example/')],
    ['mirrors', (m) => (m.mirrors = ['https://evil.example/'])],
    ['killSwitch', (m) => (m.killSwitch = true)],
    ['assets[0].path', (m) => (m.assets[0].path = '/media/b.bin')],
    ['assets[0].length', (m) => (m.assets[0].length = 100_001)],
    ['assets[0].type', (m) => (m.assets[0].type = 'text/html')],
    ['assets[0].pieceLength', (m) => (m.assets[0].pieceLength = 32768)],
    ['assets[0].pieces', (m) => (m.assets[0].pieces = Buffer.alloc(40, 1).toString('base64'))],
    ['assets[0].infoHash', (m) => (m.assets[0].infoHash = 'b'.repeat(40))],
    ['assets (removed)', (m) => (m.assets = [])],
  ]
  for (const [field, change] of tampers) {
    const manifest = structuredClone(original)
    change(manifest)
    const text = encodeEnvelope(JSON.stringify(manifest), envelope.signature)
    await assert.rejects(verifySignedManifest(text, { verifySignature, nowMs: NOW }), { code: 'manifest-signature-invalid' }, `tampered ${field} was accepted`)
  }
})

test('a one-byte change anywhere in the signed bytes or the signature fails', async () => {
  const envelope = parseEnvelope(signed(sampleManifest()))
  const bytes = Buffer.from(envelope.manifest)
  for (let i = 0; i < bytes.length; i++) {
    const changed = Buffer.from(bytes)
    changed[i] ^= 0x01
    const text = encodeEnvelope(changed.toString('latin1'), envelope.signature)
    await assert.rejects(verifySignedManifest(text, { verifySignature, nowMs: NOW }), ManifestError, `byte ${i} changed and still accepted`)
  }
  const signature = Buffer.from(envelope.signature, 'base64')
  for (let i = 0; i < signature.length; i++) {
    const changed = Buffer.from(signature)
    changed[i] ^= 0x80
    const text = encodeEnvelope(envelope.manifest, changed.toString('base64'))
    await assert.rejects(verifySignedManifest(text, { verifySignature, nowMs: NOW }), { code: 'manifest-signature-invalid' })
  }
})

test('expired, future-dated and rolled-back manifests are refused', async () => {
  const text = signed(sampleManifest())
  await assert.rejects(verifySignedManifest(text, { verifySignature, nowMs: Date.parse('2026-12-24T00:00:00Z') }), { code: 'manifest-expired' })
  await assert.rejects(verifySignedManifest(text, { verifySignature, nowMs: Date.parse('2026-11-23T00:00:00Z') }), { code: 'manifest-not-yet-valid' })
  await assert.rejects(verifySignedManifest(text, { verifySignature, nowMs: NOW, minSequence: 8 }), { code: 'manifest-rollback' })
  await verifySignedManifest(text, { verifySignature, nowMs: NOW, minSequence: 7 })
})

test('a signed but malformed manifest is refused by validation', async () => {
  const cases: Array<(m: any) => void> = [
    (m) => (m.sequence = 0),
    (m) => (m.sequence = 1.5),
    (m) => (m.scope = 'no-slash'),
    (m) => (m.expiresAt = m.issuedAt),
    (m) => (m.trackers = ['http://not-a-ws-tracker/']),
    (m) => (m.assets[0].path = '/outside-scope.bin') && (m.scope = '/blog/'),
    (m) => (m.assets[0].pieceLength = 1000),
    (m) => (m.assets[0].pieces = Buffer.alloc(20).toString('base64')),
    (m) => (m.assets[0].infoHash = 'XYZ'),
    (m) => m.assets.push(structuredClone(m.assets[0])),
    (m) => (m.extra = 1),
    (m) => delete m.killSwitch,
    (m) => (m.iceServers = { urls: 'stun:stun.example.com' }),
    (m) => (m.iceServers = [{ urls: 'http://stun.example.com' }]),
    (m) => (m.iceServers = [{ urls: [] }]),
    (m) => (m.iceServers = [{ urls: 'turn:turn.example.com:3478' }]),
    (m) => (m.iceServers = [{ urls: 'stun:stun.example.com', password: 'x' }]),
  ]
  for (const change of cases) {
    const manifest: any = sampleManifest()
    change(manifest)
    await assert.rejects(verifySignedManifest(signed(manifest), { verifySignature, nowMs: NOW }), { code: 'manifest-invalid' }, JSON.stringify(manifest).slice(0, 200))
  }
  assert.throws(() => validateManifest([]), { code: 'manifest-invalid' })
})

test('optional ICE servers: STUN alone, TURN with credentials', async () => {
  const manifest: any = sampleManifest()
  manifest.iceServers = [
    { urls: 'stun:stun.example.com:3478' },
    { urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'], username: '1767225600:site', credential: 's3cret/+=' },
  ]
  const accepted = await verifySignedManifest(signed(manifest), { verifySignature, nowMs: NOW })
  assert.deepEqual(accepted.iceServers, manifest.iceServers)
})

test('an envelope that is not the documented shape is refused', async () => {
  for (const text of ['not json', '{}', '{"format":"swarmcdn-signed-manifest/1","signature":1,"manifest":"{}"}']) {
    await assert.rejects(verifySignedManifest(text, { verifySignature, nowMs: NOW }), { code: 'manifest-envelope-invalid' })
  }
})
