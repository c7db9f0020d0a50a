// A built demo site (small media) under `swarmcdn serve`, in this process, for browser tests.

import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createHash } from 'node:crypto'
import { prepareDemo, type PreparedDemo } from '../../demo/prepare-demo.ts'
import { runServe, type RunningServe } from '../../origin-tools/src/commands/serve.ts'
import type { Page } from 'playwright-core'
import { removeTempDir, tempDir } from '../../test/helpers/temp-dir.ts'

export interface DemoSite {
  prepared: PreparedDemo
  serve: RunningServe
  /** http://127.0.0.1:port */
  origin: string
  close(): Promise<void>
  /** Body bytes the origin served for one path, or summed over all manifest assets. */
  originBytes(path?: string): Promise<number>
  assetPaths(): string[]
  sha256Of(path: string): Promise<string>
}

export interface DemoSiteOptions {
  seed?: boolean
  tracker?: boolean
  /** Service worker settings baked in (e.g. a tiny storeBudgetBytes). */
  swConfig?: Record<string, number>
  /** More files (site path → bytes) added before the build, e.g. a page with many assets. */
  extraFiles?: Record<string, string | Uint8Array>
  /** Writes more files into the site folder before the build (large generated files, streamed to disk). */
  prepareFiles?: (siteDir: string) => Promise<void>
}

export async function startDemoSite(options: DemoSiteOptions = {}): Promise<DemoSite> {
  const workDir = await tempDir('swarmcdn-e2e-')
  const outDir = join(workDir, 'site')
  const prepared = await prepareDemo({ outDir, baseUrl: 'http://localhost:8080/', videoSeconds: 12, images: 6 })
  for (const [path, content] of Object.entries(options.extraFiles ?? {})) {
    await mkdir(dirname(join(outDir, path)), { recursive: true })
    await writeFile(join(outDir, path), content)
  }
  await options.prepareFiles?.(outDir)
  if (options.swConfig || options.extraFiles || options.prepareFiles) {
    const { buildSite } = await import('../../origin-tools/src/commands/build.ts')
    prepared.build = await buildSite({
      siteDir: outDir, keyFile: prepared.keyFile, baseUrl: 'http://localhost:8080/', trackers: ['/__swarmcdn/tracker'], mirrors: [],
      minSizeBytes: 256 * 1024, expiresInDays: 7, killSwitch: false, json: true, swConfig: options.swConfig,
    })
  }
  const serve = await runServe({
    siteDir: outDir, port: 0, host: '127.0.0.1', tracker: options.tracker ?? true, seed: options.seed ?? false,
    iceServers: [], maxUploadBytesPerSec: -1, log: () => {},
  })
  const origin = `http://127.0.0.1:${serve.port}`
  const site: DemoSite = {
    prepared,
    serve,
    origin,
    async close() {
      await serve.close()
      await removeTempDir(workDir)
    },
    async originBytes(path) {
      const stats = await (await fetch(`${origin}/__swarmcdn/origin-stats`)).json()
      if (path) return stats.paths[path]?.bytes ?? 0
      return site.assetPaths().reduce((sum, p) => sum + (stats.paths[p]?.bytes ?? 0), 0)
    },
    assetPaths: () => prepared.build.manifest.assets.map((asset) => asset.path),
    async sha256Of(path) {
      return createHash('sha256').update(await readFile(join(outDir, decodeURIComponent(path)))).digest('hex')
    },
  }
  return site
}

/** Waits until the page is controlled by the swarmcdn service worker. */
export async function waitForController(page: Page): Promise<void> {
  await page.waitForFunction(() => navigator.serviceWorker?.controller?.scriptURL.endsWith('/swarmcdn-sw.js'), null, { timeout: 20_000 })
}

/** SHA-256 and headers of a fetch made by the page (so it goes through its service worker). */
export async function fetchInPage(page: Page, path: string, headers: Record<string, string> = {}) {
  return page.evaluate(async ({ path, headers }) => {
    const res = await fetch(path, { headers })
    const bytes = await res.arrayBuffer()
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
    return {
      status: res.status,
      length: bytes.byteLength,
      sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
      headers: Object.fromEntries(res.headers.entries()),
    }
  }, { path, headers })
}

/** Posts one message to the page's SW with a reply port and resolves with the reply. */
function askSw<T>(page: Page, type: string): Promise<T> {
  return page.evaluate((messageType) => new Promise<T>((resolve) => {
    const channel = new MessageChannel()
    channel.port1.onmessage = (event) => resolve(event.data)
    navigator.serviceWorker.controller!.postMessage({ type: messageType }, [channel.port2])
  }), type)
}

/** Asks the SW to check its manifest now; resolves with { status, sequence }. */
export function refreshManifest(page: Page): Promise<{ status: string; sequence: number | null }> {
  return askSw(page, 'swarmcdn:refresh-manifest')
}

export function swStats(page: Page): Promise<any> {
  return askSw(page, 'swarmcdn:get-stats')
}

/**
 * How many requests for `path` the page's SW has answered. A cold whole-file response is the
 * origin's own, untouched (docs/service-worker.md, step 4): no X-Swarmcdn-Sources header tells
 * that it went through the SW, this count does.
 */
export async function swRequestsFor(page: Page, path: string): Promise<number> {
  return (await swStats(page)).stats.assets[path]?.requests ?? 0
}
