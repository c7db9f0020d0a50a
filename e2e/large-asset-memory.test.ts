// Bounded memory: a 1 GiB asset (generated at run time, never committed) streams through the service
// worker, cold from the origin (streamed as it arrives, whole pieces stored on the side), then again from the
// middle through the piece path (its first piece in the store), while the worker's heap is read over
// CDP. Issue 11: it must stay under 64 MB. The asset is served as application/wasm, a type the warm path
// (stored-response.ts, passive media only) leaves to the piece path, so that path is what is measured.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { skipWithoutChromium } from './helpers/browser.ts'
import { waitForController, swStats } from './helpers/demo-site.ts'
import { browserSuite } from './helpers/suite.ts'
import { attachWorkerHeap } from './helpers/worker-heap.ts'

const SIZE = 1024 * 1024 * 1024
const PATH = '/big/huge.wasm'
const HEAP_LIMIT = 64 * 1024 * 1024
const suite = browserSuite()

/** Distinct pseudo-random blocks (so every piece differs), streamed to disk. */
async function writeHugeFile(path: string): Promise<void> {
  const handle = await open(path, 'w')
  const block = Buffer.alloc(4 * 1024 * 1024)
  let x = 0x9e3779b9
  try {
    for (let offset = 0; offset < SIZE; offset += block.length) {
      for (let i = 0; i < block.length; i += 4) {
        x ^= x << 13
        x ^= x >>> 17
        x ^= x << 5
        block.writeUInt32LE(x >>> 0, i)
      }
      await handle.write(block, 0, block.length)
    }
  } finally {
    await handle.close()
  }
}

/** The same position-sensitive checksum the page computes, over the file's bytes from `start`. */
async function checksumOfFile(path: string, start: number): Promise<number> {
  const handle = await open(path, 'r')
  const chunk = Buffer.alloc(8 * 1024 * 1024)
  let h = 0x811c9dc5
  try {
    for (let offset = start; offset < SIZE; ) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, offset)
      for (let i = 0; i < bytesRead; i++) h = Math.imul(h ^ chunk[i], 16777619)
      offset += bytesRead
    }
  } finally {
    await handle.close()
  }
  return h >>> 0
}

test('a 1 GiB asset streams through the service worker with its heap under 64 MB', { skip: skipWithoutChromium, timeout: 240_000 }, async () => {
  let filePath = ''
  const site = await suite.site({
    tracker: false,
    prepareFiles: async (siteDir) => {
      await mkdir(join(siteDir, 'big'), { recursive: true })
      filePath = join(siteDir, 'big', 'huge.wasm')
      await writeHugeFile(filePath)
    },
  })
  const context = await suite.browser().newContext()
  try {
    const page = await context.newPage()
    await page.goto(`${site.origin}/`)
    await waitForController(page)
    const heap = await attachWorkerHeap(suite.browser(), '/swarmcdn-sw.js')
    let peak = 0
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        // After a full collection: what the worker holds, not garbage the collector has not reached yet
        // (ArrayBuffers read from IndexedDB are collected lazily; measured: 256 MB of garbage before a GC).
        await heap.collectGarbage()
        peak = Math.max(peak, await heap.bytes())
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })()
    const readWhole = (range: string | null) =>
      page.evaluate(async ({ path, range }) => {
        const response = await fetch(path, range ? { headers: { Range: range } } : {})
        const reader = response.body!.getReader()
        let h = 0x811c9dc5
        let length = 0
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value[i], 16777619)
          length += value.length
        }
        return { status: response.status, length, checksum: h >>> 0, sources: response.headers.get('x-swarmcdn-sources') }
      }, { path: PATH, range })

    try {
      let started = Date.now()
      const cold = await readWhole(null)
      console.log(`# cold pass (origin stream): ${((Date.now() - started) / 1000).toFixed(1)} s`)
      assert.equal(cold.status, 200)
      assert.equal(cold.length, SIZE)
      assert.equal(cold.sources, 'http', 'cold and alone: straight from the origin')
      assert.equal(cold.checksum, await checksumOfFile(filePath, 0))

      // Then the piece path: a Range that starts on a piece in the store (fetched alone first, so it is
      // stored whatever the cold pass kept), the rest from the store or the origin, piece by piece.
      const pieceLength = site.prepared.build.manifest.assets.find((asset) => asset.path === PATH)!.pieceLength
      const start = 768 * pieceLength
      let first = await readWhole(`bytes=${start}-${start + pieceLength - 1}`)
      for (let tries = 0; first.sources !== 'store' && tries < 50; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        first = await readWhole(`bytes=${start}-${start + pieceLength - 1}`)
      }
      assert.equal(first.sources, 'store', 'a piece read whole is stored')
      started = Date.now()
      const warm = await readWhole(`bytes=${start}-`)
      console.log(`# second pass (piece path, ${warm.sources}): ${((Date.now() - started) / 1000).toFixed(1)} s`)
      assert.equal(warm.status, 206)
      assert.equal(warm.length, SIZE - start)
      assert.match(warm.sources ?? '', /^store/)
      assert.equal(warm.checksum, await checksumOfFile(filePath, start))
    } finally {
      sampling = false
      await sampler
      await heap.close()
    }
    const stats = await swStats(page)
    console.log(`# service worker heap peak (after GC) ${(peak / 1024 / 1024).toFixed(1)} MB; served from the store ${(stats.stats.totals.bytes.store / 1024 / 1024).toFixed(0)} MiB, from the origin ${(stats.stats.totals.bytes.http / 1024 / 1024).toFixed(0)} MiB`)
    assert.ok(peak > 0, 'the heap was sampled')
    assert.ok(peak < HEAP_LIMIT, `service worker heap peaked at ${(peak / 1024 / 1024).toFixed(1)} MB (limit 64 MB)`)
  } finally {
    await context.close()
  }
})
