// One visit per variant, each in a fresh browser context (empty HTTP cache, no service worker yet,
// empty storage), and the timed pass all variants share: the page fetches each asset and reads its
// body whole (arrayBuffer), one after the other, timing each with performance.now(); the pass's time
// is the sum. Bodies are hashed after the timed reads (SHA-256 against the files), so wrong bytes
// cannot pass for a fast path and hashing is not in the time.
//
//   http     : service workers blocked; home page, then the page: cold.
//   workbox  : home page registers the Workbox CacheFirst SW and waits until it controls; the page:
//              cold (Cache Storage empty). Once every asset is in the cache: one untimed pass, then
//              the timed warm pass, each on a new navigation.
//   swarmcdn : home page loads swarmcdn.js, waits until swarmcdn's SW controls; the page: cold (the
//              piece store is empty, the tracker has nobody else: no peers, all from the origin).
//              Then untimed passes until every response says X-Swarmcdn-Sources: store, then the
//              timed warm pass. On every swarmcdn page the timing starts once window.swarmcdn.ready
//              has settled (the agent has asked the tracker and found nobody), so what is timed is
//              the service worker's path, not the agent's start-up.

import type { Browser, Page } from 'playwright-core'
import { HOME_PATH, PAGE_PATH, WORKBOX_SW_FILE, type SiteAsset } from './sites.ts'

export type Variant = 'http' | 'workbox' | 'swarmcdn'
export type Measure = 'http-cold' | 'workbox-cold' | 'workbox-warm' | 'swarmcdn-cold' | 'swarmcdn-warm'

export interface AssetRead {
  path: string
  ms: number
  status?: number
  bytes?: number
  sha256?: string
  /** X-Swarmcdn-Sources of the response (swarmcdn's SW sets it), or null. */
  sources?: string | null
  /** The resource timing says a service worker handled the fetch (workerStart > 0). */
  viaSw?: boolean
  error?: string
}

export interface Pass {
  /** Sum of the per-asset times, ms: the measured number. */
  totalMs: number
  /** First fetch start to last body end, ms (≈ totalMs; the reads are sequential). */
  wallMs: number
  reads: AssetRead[]
  /** Wrong bytes, wrong status, wrong path taken: the pass does not count. */
  problems: string[]
}

export interface VisitOptions {
  origin: string
  assets: SiteAsset[]
  passTimeoutMs: number
}

const WORKBOX_CACHE = 'bench-assets'
const CONTROL_TIMEOUT_MS = 20_000
const READY_TIMEOUT_MS = 20_000
const STORED_TRIES = 6

export async function visitHttp(browser: Browser, options: VisitOptions): Promise<Partial<Record<Measure, Pass>>> {
  const context = await browser.newContext({ serviceWorkers: 'block' })
  try {
    const page = await context.newPage()
    await page.goto(options.origin + HOME_PATH)
    await page.goto(options.origin + PAGE_PATH)
    const cold = await timedPass(page, options)
    expectSw(cold, false)
    return { 'http-cold': cold }
  } finally {
    await context.close()
  }
}

export async function visitWorkbox(browser: Browser, options: VisitOptions): Promise<Partial<Record<Measure, Pass>>> {
  const context = await browser.newContext({ serviceWorkers: 'allow' })
  try {
    const page = await context.newPage()
    await page.goto(options.origin + HOME_PATH)
    await page.evaluate((file) => navigator.serviceWorker.register(file).then(() => undefined), `/${WORKBOX_SW_FILE}`)
    await waitForControllerScript(page, WORKBOX_SW_FILE)
    await page.goto(options.origin + PAGE_PATH)
    const cold = await timedPass(page, options)
    expectSw(cold, true)
    // CacheFirst writes to Cache Storage after it has answered: wait until every asset is there.
    const paths = options.assets.map((asset) => asset.path)
    const cached = await poll(() => page.evaluate(async ({ name, paths }) => {
      const cache = await caches.open(name)
      for (const path of paths) if (!(await cache.match(path))) return false
      return true
    }, { name: WORKBOX_CACHE, paths }))
    await page.goto(options.origin + PAGE_PATH)
    await timedPass(page, options)
    await page.goto(options.origin + PAGE_PATH)
    const warm = await timedPass(page, options)
    expectSw(warm, true)
    if (!cached) warm.problems.push('Cache Storage never held every asset')
    return { 'workbox-cold': cold, 'workbox-warm': warm }
  } finally {
    await context.close()
  }
}

export async function visitSwarmcdn(browser: Browser, options: VisitOptions): Promise<Partial<Record<Measure, Pass>>> {
  const context = await browser.newContext({ serviceWorkers: 'allow' })
  try {
    const page = await context.newPage()
    await page.goto(options.origin + HOME_PATH)
    await waitForControllerScript(page, 'swarmcdn-sw.js')
    await openSwarmcdnPage(page, options)
    const cold = await timedPass(page, options)
    expectSw(cold, true)
    for (const read of cold.reads) {
      if (read.sources && /store|peers/.test(read.sources)) cold.problems.push(`${read.path}: cold read came from ${read.sources} (expected the origin only)`)
    }
    const peers = await page.evaluate(async () => (await (window as unknown as { swarmcdn: { stats(): Promise<{ peers: number }> } }).swarmcdn.stats()).peers)
    if (peers !== 0) cold.problems.push(`${peers} peers connected (expected none)`)
    // Pieces are stored on the side: untimed passes until every asset is served from the store.
    let stored = false
    for (let attempt = 0; attempt < STORED_TRIES && !stored; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
      await openSwarmcdnPage(page, options)
      const pass = await timedPass(page, options)
      stored = pass.problems.length === 0 && pass.reads.every((read) => read.sources === 'store')
    }
    await openSwarmcdnPage(page, options)
    const warm = await timedPass(page, options)
    expectSw(warm, true)
    for (const read of warm.reads) {
      if (read.sources !== 'store') warm.problems.push(`${read.path}: warm read came from ${read.sources ?? 'not the SW'} (expected store)`)
    }
    return { 'swarmcdn-cold': cold, 'swarmcdn-warm': warm }
  } finally {
    await context.close()
  }
}

async function openSwarmcdnPage(page: Page, options: VisitOptions): Promise<void> {
  await page.goto(options.origin + PAGE_PATH)
  const ready = await page.evaluate((timeoutMs) => Promise.race([
    (window as unknown as { swarmcdn: { ready: Promise<unknown> } }).swarmcdn.ready,
    new Promise((resolve) => setTimeout(() => resolve('timeout'), timeoutMs)),
  ]), READY_TIMEOUT_MS)
  if (ready === 'timeout') throw new Error(`window.swarmcdn.ready did not settle within ${READY_TIMEOUT_MS} ms`)
}

async function waitForControllerScript(page: Page, file: string): Promise<void> {
  await page.waitForFunction((name) => navigator.serviceWorker?.controller?.scriptURL.endsWith(`/${name}`), file, { timeout: CONTROL_TIMEOUT_MS })
}

async function poll(check: () => Promise<boolean>, timeoutMs = 10_000, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  return false
}

function expectSw(pass: Pass, viaSw: boolean): void {
  for (const read of pass.reads) {
    if (read.viaSw !== undefined && read.viaSw !== viaSw) pass.problems.push(`${read.path}: ${viaSw ? 'not handled by the service worker' : 'handled by a service worker'}`)
  }
}

/** The timed pass in the page, then its checks against the files. */
export async function timedPass(page: Page, options: VisitOptions): Promise<Pass> {
  const paths = options.assets.map((asset) => asset.path)
  let timer: NodeJS.Timeout | undefined
  const result = await Promise.race([
    page.evaluate(readAssetsInPage, paths),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`pass not done within ${options.passTimeoutMs} ms`)), options.passTimeoutMs))),
  ]).finally(() => clearTimeout(timer))
  return { totalMs: result.reads.reduce((sum, read) => sum + read.ms, 0), wallMs: result.wallMs, reads: result.reads, problems: checkReads(result.reads, options.assets) }
}

/** What is wrong with a pass's reads against the files: errors, statuses, lengths, SHA-256. */
export function checkReads(reads: AssetRead[], assets: SiteAsset[]): string[] {
  const problems: string[] = []
  if (reads.length !== assets.length) problems.push(`${reads.length} reads for ${assets.length} assets`)
  for (const [i, asset] of assets.entries()) {
    const read = reads[i]
    if (!read) continue
    if (read.path !== asset.path) problems.push(`read ${i} is ${read.path}, expected ${asset.path}`)
    else if (read.error) problems.push(`${read.path}: ${read.error}`)
    else if (read.status !== 200) problems.push(`${read.path}: status ${read.status}`)
    else if (read.bytes !== asset.bytes || read.sha256 !== asset.sha256) problems.push(`${read.path}: ${read.bytes} bytes, SHA-256 differs from the file`)
  }
  return problems
}

// Runs in the page. Self-contained: Playwright sends its source.
async function readAssetsInPage(paths: string[]): Promise<{ reads: AssetRead[]; wallMs: number }> {
  performance.clearResourceTimings()
  const reads: AssetRead[] = []
  const bodies: Array<ArrayBuffer | null> = []
  const wallStart = performance.now()
  for (const path of paths) {
    const start = performance.now()
    try {
      const response = await fetch(path)
      const body = await response.arrayBuffer()
      reads.push({ path, ms: performance.now() - start, status: response.status, bytes: body.byteLength, sources: response.headers.get('x-swarmcdn-sources') })
      bodies.push(body)
    } catch (error) {
      reads.push({ path, ms: performance.now() - start, error: String(error) })
      bodies.push(null)
    }
  }
  const wallMs = performance.now() - wallStart
  for (const [i, read] of reads.entries()) {
    const body = bodies[i]
    if (body) read.sha256 = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', body)), (b) => b.toString(16).padStart(2, '0')).join('')
    const entries = performance.getEntriesByName(new URL(read.path, location.href).href) as PerformanceResourceTiming[]
    const entry = entries[entries.length - 1]
    if (entry) read.viaSw = entry.workerStart > 0
  }
  return { reads, wallMs }
}
