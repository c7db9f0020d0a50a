// `npm run bench`: speed and memory of the build-time hashing, measured side by side in one run so the
// ratios hold on a noisy shared machine.
//   hashing speed : swarmcdn's piece hasher vs one plain SHA-1 over the same file (the floor: read + hash)
//   memory        : peak RSS growth while hashing a small file vs a file 16× larger (flat ⇒ ratio ≈ 1)

import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { hashFilePieces } from '../origin-tools/src/piece-hasher.ts'
import { autoPieceLength } from '../core/piece-math.ts'

const MB = 1024 * 1024

async function makeFile(path: string, bytes: number): Promise<void> {
  // Real (non-sparse) pseudo-random data, written in 4 MiB blocks.
  const handle = await open(path, 'w')
  const block = Buffer.alloc(4 * MB)
  let x = 12345
  for (let i = 0; i < block.length; i += 4) {
    x = (x * 1103515245 + 12345) >>> 0
    block.writeUInt32LE(x, i)
  }
  for (let written = 0; written < bytes; written += block.length) await handle.write(block, 0, Math.min(block.length, bytes - written))
  await handle.close()
}

async function plainSha1(path: string): Promise<void> {
  const hash = createHash('sha1')
  for await (const chunk of createReadStream(path, { highWaterMark: MB })) hash.update(chunk as Buffer)
  hash.digest()
}

async function best(runs: number, fn: () => Promise<unknown>): Promise<number> {
  let bestMs = Infinity
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    bestMs = Math.min(bestMs, performance.now() - start)
  }
  return bestMs
}

/** Peak RSS growth (bytes) of a child process hashing `path`. */
function peakRssGrowth(path: string): number {
  const script = fileURLToPath(import.meta.url)
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, '--rss-child', path], { encoding: 'utf8' })
  if (child.status !== 0) throw new Error(child.stderr)
  return Number(child.stdout.trim())
}

if (process.argv[2] === '--rss-child') {
  const path = process.argv[3]
  const before = process.memoryUsage().rss
  let peak = before
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5)
  await hashFilePieces(path, autoPieceLength(1e9))
  clearInterval(timer)
  peak = Math.max(peak, process.memoryUsage().rss)
  process.stdout.write(`${peak - before}\n`)
  process.exit(0)
}

const dir = await mkdtemp(join(tmpdir(), 'swarmcdn-bench-'))
try {
  const small = join(dir, 'small.bin')
  const large = join(dir, 'large.bin')
  await makeFile(small, 64 * MB)
  await makeFile(large, 1024 * MB)

  const pieceLength = autoPieceLength(1024 * MB)
  const oursMs = await best(3, () => hashFilePieces(large, pieceLength))
  const floorMs = await best(3, () => plainSha1(large))
  console.log(`hashing 1 GiB: swarmcdn pieces ${(1024 / (oursMs / 1000)).toFixed(0)} MB/s, plain SHA-1 ${(1024 / (floorMs / 1000)).toFixed(0)} MB/s`)
  console.log(`  ratio swarmcdn/plain time: ${(oursMs / floorMs).toFixed(2)} (1.00 = no overhead over reading and hashing once)`)

  const smallRss = peakRssGrowth(small)
  const largeRss = peakRssGrowth(large)
  console.log(`peak RSS growth: 64 MiB file ${(smallRss / MB).toFixed(1)} MiB, 1 GiB file ${(largeRss / MB).toFixed(1)} MiB`)
  console.log(`  ratio large/small: ${(Math.max(largeRss, MB) / Math.max(smallRss, MB)).toFixed(2)} (≈1 means memory stays flat as files grow)`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
