// The tracker under abuse: raw WebSocket clients against the real `swarmcdn tracker` (in process, and as
// a child process where memory is measured). Each case prints its numbers (offers relayed, peers, RSS).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { runTracker } from '../origin-tools/src/commands/tracker.ts'
import type { TrackerConfig } from '../origin-tools/src/tracker/swarm-tracker.ts'
import { admissionFromManifests, isAdmitted } from '../origin-tools/src/tracker/tracker-admission.ts'
import { CLI } from './helpers/cli.ts'
import { RawTrackerPeer, binary, fakeOffers, peerId } from './helpers/raw-tracker-peer.ts'

const quiet = () => {}
const SWARM = 'ab'.repeat(20)

/** A tracker in this process; a frozen clock so rate limits never refill during a test. */
async function startTracker(limits: Partial<TrackerConfig> = {}) {
  const frozen = Date.now()
  const running = await runTracker({ port: 0, host: '127.0.0.1', manifests: [], limits: { trustProxy: true, now: () => frozen, ...limits }, log: quiet })
  const url = `ws://127.0.0.1:${running.port}/`
  return { ...running, url, open: (address: string) => RawTrackerPeer.open(url, address) }
}

test('an announce carrying an answer is policed like any other: it relays no offers and is rate-limited', async (t) => {
  const tracker = await startTracker()
  try {
    const victim = await tracker.open('10.0.0.1')
    victim.announce(SWARM, 'victim')
    await victim.waitForCount(1)
    const attacker = await tracker.open('10.0.0.2')
    const sent = 2000
    for (let i = 0; i < sent; i++) {
      attacker.send({
        action: 'announce', info_hash: binary(SWARM), peer_id: peerId('attacker'), numwant: 10, left: 1,
        answer: { type: 'answer', sdp: 'v=0 fake' }, offer_id: 'x'.repeat(20), to_peer_id: peerId('victim'), offers: fakeOffers(10),
      })
    }
    attacker.announce(SWARM, 'attacker') // answered (or refused), so everything before it was handled
    await attacker.waitForCount(1)
    await victim.flush(SWARM)
    const offers = victim.count((m) => m.offer)
    const answers = victim.count((m) => m.answer)
    t.diagnostic(`${sent} answer-announces with 10 offers each: victim received ${offers} offers and ${answers} answers`)
    assert.equal(offers, 0, 'offers riding on an answer are not relayed')
    assert.ok(answers <= 100, `answers relayed are bounded by the per-connection burst (got ${answers})`)
  } finally {
    await tracker.close()
  }
})

test('a few connections cannot flood a swarm with peer ids: the honest seeder stays in it', async (t) => {
  const tracker = await startTracker()
  try {
    const seeder = await tracker.open('10.0.1.1')
    seeder.announce(SWARM, 'seeder', { left: 0 })
    await seeder.waitForCount(1)
    // 1,000 peer ids: 5 addresses, 2 connections each, 100 peer ids per connection.
    const attackers: RawTrackerPeer[] = []
    for (let a = 0; a < 5; a++) {
      for (let c = 0; c < 2; c++) {
        const attacker = await tracker.open(`10.0.1.${10 + a}`)
        for (let i = 0; i < 100; i++) attacker.announce(SWARM, `f${a}.${c}.${i}`)
        attackers.push(attacker)
      }
    }
    for (const attacker of attackers) await attacker.waitForCount(100).catch(() => undefined)
    const swarm = () => (tracker.tracker.server.torrents as Record<string, any>)[SWARM]
    const fakes = swarm().peers.length - 1
    const seederInSwarm = swarm().peers.peek(Buffer.from(peerId('seeder'), 'latin1').toString('hex')) !== undefined
    const leecher = await tracker.open('10.0.1.3')
    leecher.announce(SWARM, 'leecher', { offers: fakeOffers(10) })
    await leecher.waitForCount(1)
    await seeder.flush(SWARM)
    t.diagnostic(`1,000 peer ids from 10 sockets: ${fakes} in the swarm; seeder in the swarm: ${seederInSwarm}; it received ${seeder.count((m) => m.offer)} of a leecher's 10 offers`)
    assert.ok(fakes <= 40, `at most 4 peer ids per connection (got ${fakes})`)
    assert.ok(seederInSwarm, 'the seeder was not pushed out')
  } finally {
    await tracker.close()
  }
})

test('peer ids are bounded per address, and a closed connection takes all its peer ids with it', async (t) => {
  const tracker = await startTracker({ maxPeerIdsPerAddress: 8 })
  try {
    const connections: RawTrackerPeer[] = []
    for (let c = 0; c < 5; c++) {
      const peer = await tracker.open('10.0.2.1')
      for (let i = 0; i < 4; i++) peer.announce(SWARM, `c${c}p${i}`)
      await peer.waitForCount(4)
      connections.push(peer)
    }
    const accepted = connections.reduce((sum, peer) => sum + peer.count((m) => m.action === 'announce' && !m['failure reason']), 0)
    const peersBefore = tracker.tracker.stats().peers
    t.diagnostic(`20 peer ids from 5 connections of one address: ${accepted} accepted`)
    assert.equal(accepted, 8)
    assert.equal(peersBefore, 8)
    for (const peer of connections) await peer.close()
    const probe = await tracker.open('10.0.2.2')
    await probe.flush(SWARM)
    assert.equal(tracker.tracker.stats().peers, 0, 'every peer id of a closed connection leaves the swarm')
  } finally {
    await tracker.close()
  }
})

test('another connection cannot stop or take over a peer id in use', async () => {
  const tracker = await startTracker()
  try {
    const seeder = await tracker.open('10.0.3.1')
    seeder.announce(SWARM, 'seeder', { left: 0 })
    await seeder.waitForCount(1)
    const attacker = await tracker.open('10.0.3.2')
    attacker.announce(SWARM, 'seeder', { event: 'stopped' })
    await attacker.waitForCount(1)
    assert.match(attacker.received[0]['failure reason'] ?? '', /in use/)
    assert.equal(tracker.tracker.stats().peers, 1)
  } finally {
    await tracker.close()
  }
})

test('scrapes are rate-limited and must name their infohashes', async (t) => {
  const tracker = await startTracker()
  try {
    const peer = await tracker.open('10.0.4.1')
    peer.send({ action: 'scrape' })
    await peer.waitForCount(1)
    assert.match(peer.received[0]['failure reason'] ?? '', /scrape names/)
    for (let i = 0; i < 300; i++) peer.send({ action: 'scrape', info_hash: binary(SWARM) })
    await peer.waitForCount(301).catch(() => undefined)
    const stats = tracker.tracker.stats() as any
    // Scrapes that got past the rate limit to the library (a client that ignores refusals is cut off).
    const answered = stats.scrapes === undefined ? peer.count((m) => m.action === 'scrape' && m.files) : stats.scrapes - stats.refusedScrapes
    t.diagnostic(`300 scrapes on one connection: ${answered} answered`)
    assert.ok(answered <= 100, `scrapes beyond the burst are refused (answered ${answered})`)
  } finally {
    await tracker.close()
  }
})

test('without a manifest swarms are bounded, and empty or no longer admitted swarms are removed', async (t) => {
  const tracker = await startTracker({ maxSwarms: 50 })
  try {
    const hashes = Array.from({ length: 120 }, (_, i) => i.toString(16).padStart(40, '0'))
    const peers: RawTrackerPeer[] = []
    for (let c = 0; c < 4; c++) {
      const peer = await tracker.open(`10.0.6.${c}`)
      for (const hash of hashes.slice(c * 30, c * 30 + 30)) peer.announce(hash, `p${c}`)
      await peer.waitForCount(30)
      peers.push(peer)
    }
    const stats = tracker.tracker.stats()
    t.diagnostic(`120 infohashes announced with --max-swarms 50: ${stats.swarms} swarms, ${stats.refusedSwarms} refused`)
    assert.equal(stats.swarms, 50)
    // Admission changes (a new build): swarms it no longer lists go at the next sweep, even with peers.
    tracker.tracker.setAdmission({ swarmIds: new Set(hashes.slice(0, 10)) })
    tracker.tracker.sweep()
    assert.equal(tracker.tracker.stats().swarms, 10)
    for (const peer of peers) await peer.close()
    const probe = await tracker.open('10.0.6.9')
    await probe.flush(hashes[0])
    tracker.tracker.sweep()
    assert.equal(tracker.tracker.stats().swarms, 0, 'empty swarms are removed')
  } finally {
    await tracker.close()
  }
})

test('admission is one decision fed by the manifests', () => {
  const admission = admissionFromManifests([{ assets: [{ infoHash: SWARM }] } as any])
  assert.equal(isAdmitted(admission, SWARM), true)
  assert.equal(isAdmitted(admission, 'cd'.repeat(20)), false)
  assert.equal(isAdmitted(null, 'cd'.repeat(20)), true)
})

/** `swarmcdn tracker` as a child process: port from its first line, RSS from /proc. */
async function startTrackerProcess(): Promise<{ port: number; pid: number; exited: () => boolean; stop: () => void }> {
  const child = spawn(process.execPath, [CLI, 'tracker', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      const match = /ws:\/\/[^:]+:(\d+)/.exec(stderr)
      if (match) resolve(Number(match[1]))
    })
    child.on('exit', () => reject(new Error(`tracker exited: ${stderr}`)))
  })
  return { port, pid: child.pid!, exited: () => child.exitCode !== null, stop: () => child.kill('SIGTERM') }
}

async function memoryKb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN)
  return { rss: field('VmRSS'), peak: field('VmHWM') }
}

test('a huge message closes the connection before it is buffered: tracker memory stays flat', { timeout: 120_000 }, async (t) => {
  const tracker = await startTrackerProcess()
  try {
    const url = `ws://127.0.0.1:${tracker.port}/`
    // Warm up, so the baseline includes the WebSocket machinery.
    const warm = await RawTrackerPeer.open(url)
    warm.send({ action: 'scrape', info_hash: binary(SWARM) })
    await warm.waitForCount(1)
    await warm.close()
    const before = await memoryKb(tracker.pid)
    // A 20 MB scrape: about 870,000 infohashes.
    const entry = JSON.stringify('a'.repeat(20))
    const huge = `{"action":"scrape","info_hash":[${Array(870_000).fill(entry).join(',')}]}`
    const codes: number[] = []
    for (let i = 0; i < 3; i++) {
      const peer = await RawTrackerPeer.open(url)
      peer.send(huge)
      await peer.waitForCount(1, 60_000)
      if (peer.isOpen) await peer.close()
      codes.push(await peer.closed)
    }
    const after = await memoryKb(tracker.pid)
    const growthMb = (after.peak - before.rss) / 1024
    t.diagnostic(`three ${(huge.length / 1e6).toFixed(0)} MB scrapes: close codes ${codes.join(',')}; tracker RSS ${(before.rss / 1024).toFixed(0)} MB → peak ${(after.peak / 1024).toFixed(0)} MB (+${growthMb.toFixed(0)} MB)`)
    assert.deepEqual(codes, [1009, 1009, 1009])
    assert.ok(growthMb < 64, `tracker memory grew ${growthMb.toFixed(0)} MB`)
  } finally {
    tracker.stop()
  }
})

test('one malformed offer does not take the tracker process down', { timeout: 60_000 }, async () => {
  const tracker = await startTrackerProcess()
  try {
    const url = `ws://127.0.0.1:${tracker.port}/`
    const seeder = await RawTrackerPeer.open(url)
    seeder.announce(SWARM, 'seeder', { left: 0 })
    await seeder.waitForCount(1)
    const other = await RawTrackerPeer.open(url)
    other.announce(SWARM, 'other', { offers: [null, 7, 'x'] })
    await other.waitForCount(1)
    await seeder.flush(SWARM)
    assert.equal(seeder.received.length, 2, 'the tracker still answers (a crash closes the socket instead)')
    assert.equal(seeder.count((m) => m.offer), 0)
    assert.equal(tracker.exited(), false, 'the tracker is still running')
  } finally {
    tracker.stop()
  }
})
