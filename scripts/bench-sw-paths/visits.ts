// One visit per variant: a fresh headless Chromium with a fresh profile (empty HTTP cache, no service
// worker, empty storage) and no automation attached, opened on the site's home page with the plan in
// the URL; the pages drive the visit (page-driver.ts) and report each timed pass to a collector here.
// A pass: the page fetches each asset and reads its body whole (arrayBuffer), one after the other,
// each timed with performance.now(); its time is the sum. Bodies are hashed after the timed reads
// (SHA-256 against the files), so wrong bytes cannot pass for a fast path and hashing is not timed.
//
//   http     : no service worker (the plain site registers none); cold.
//   workbox  : the home page registers the Workbox CacheFirst SW and waits until it controls; the
//              page: cold (Cache Storage empty); once every asset is cached, one untimed pass, then
//              the timed warm pass, each on a new navigation.
//   swarmcdn : the home page waits until swarmcdn's SW controls; the page: cold (piece store empty,
//              nobody else on the tracker: no peers, all from the origin); then untimed passes until
//              every response says X-Swarmcdn-Sources: store; then the timed warm pass. swarmcdn pages
//              are timed once window.swarmcdn.ready has settled (the agent found nobody), so the
//              number is the worker's path, not the agent's start-up.

import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CHROMIUM_PATH, HEADLESS_CHROMIUM_ARGS } from '../../e2e/helpers/browser.ts'
import { HOME_PATH, PAGE_PATH, WORKBOX_SW_FILE, WORKBOX_CACHE_NAME, type SiteAsset } from './sites.ts'
import type { DriverPlan, PageRead, PageReport } from './page-driver.ts'

export type Variant = 'http' | 'workbox' | 'swarmcdn'
export type Measure = 'http-cold' | 'workbox-cold' | 'workbox-warm' | 'swarmcdn-cold' | 'swarmcdn-warm'
export type AssetRead = PageRead

export interface Pass {
  /** Sum of the per-asset times, ms: the measured number. */
  totalMs: number
  /** First fetch start to last body end, ms (≈ totalMs; the reads are sequential). */
  wallMs: number
  reads: AssetRead[]
  facts: Record<string, unknown>
  /** Wrong bytes, wrong status, wrong path taken: the pass does not count. */
  problems: string[]
}

export interface VisitSettings {
  assets: SiteAsset[]
  /** Pause after each page's load (and swarmcdn.ready) before its pass, ms. */
  settleMs: number
  visitTimeoutMs: number
  passTimeoutMs: number
  /** Keep each visit's Chromium stderr (with --enable-logging=stderr) in <dir>/<visitId>.log. */
  chromiumLogDir?: string
}

/** Receives the pages' reports; one per bench run. */
export interface Collector {
  url: string
  visit(variant: Variant, origin: string, settings: VisitSettings): Promise<Partial<Record<Measure, Pass>>>
  close(): Promise<void>
}

const PRIME_TRIES = 6
const READY_TIMEOUT_MS = 20_000

export async function startCollector(): Promise<Collector> {
  const listeners = new Map<string, (report: PageReport) => void>()
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      res.writeHead(204, { 'Access-Control-Allow-Origin': '*' }).end()
      if (req.method !== 'POST' || req.url !== '/report') return
      try {
        const report = JSON.parse(body) as PageReport
        listeners.get(report.visitId)?.(report)
      } catch {
        // Not a page of ours.
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  let visits = 0

  return {
    url,
    async visit(variant, origin, settings) {
      const visitId = `${variant}-${++visits}`
      const plan: DriverPlan = {
        variant, visitId, collector: url, paths: settings.assets.map((asset) => asset.path), settleMs: settings.settleMs,
        readyTimeoutMs: READY_TIMEOUT_MS, primeTries: PRIME_TRIES, passTimeoutMs: settings.passTimeoutMs, workboxFile: WORKBOX_SW_FILE, workboxCache: WORKBOX_CACHE_NAME, pagePath: PAGE_PATH,
      }
      const passes: Partial<Record<Measure, Pass>> = {}
      let lastStep = 'starting the browser'
      const started = Date.now()
      const trail: string[] = []
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`visit not done within ${settings.visitTimeoutMs} ms (last step: ${lastStep})\n    steps: ${trail.join(' → ')}`)), settings.visitTimeoutMs)
        listeners.set(visitId, (report) => {
          trail.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${report.kind}${report.step ? ` ${report.step}` : ''}`)
          if (report.kind === 'progress') lastStep = report.step ?? lastStep
          if (report.kind === 'pass') passes[`${variant}-${report.step}` as Measure] = toPass(variant, report, settings.assets)
          if (report.kind === 'done' || report.kind === 'error') {
            clearTimeout(timer)
            if (report.kind === 'done') resolve()
            else reject(new Error(`page error at step ${report.step}: ${report.error}`))
          }
        })
      })
      const logFile = settings.chromiumLogDir ? join(settings.chromiumLogDir, `${visitId}.log`) : undefined
      const browser = await launchHeadless(`${origin}${HOME_PATH}?plan=${encodeURIComponent(JSON.stringify(plan))}&step=home`, logFile)
      try {
        await Promise.race([done, browser.exited.then(() => Promise.reject(new Error('Chromium exited during the visit')))])
      } finally {
        listeners.delete(visitId)
        await browser.close()
      }
      return passes
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** Chromium with its own new profile, headless, opened on `url`; no DevTools client attached. */
async function launchHeadless(url: string, logFile?: string): Promise<{ exited: Promise<void>; close(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'swarmcdn-bench-sw-profile-'))
  const log = logFile ? await open(logFile, 'w') : undefined
  const child = spawn(CHROMIUM_PATH, [
    '--headless',
    ...HEADLESS_CHROMIUM_ARGS,
    `--user-data-dir=${profile}`,
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--no-default-browser-check',
    // Keeps the headless browser open on its page (no client ever connects).
    '--remote-debugging-port=0',
    ...(log ? ['--enable-logging=stderr', '--v=0'] : []),
    url,
  ], { stdio: ['ignore', 'ignore', log ? log.fd : 'ignore'], detached: true })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // Its own process group: closing ends the renderers, network and GPU processes with it.
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name)
    } catch {
      // Already gone.
    }
  }
  return {
    exited,
    async close() {
      signal('SIGTERM')
      const killer = setTimeout(() => signal('SIGKILL'), 5000)
      await exited
      clearTimeout(killer)
      await log?.close()
      // Helper processes may still be writing to the profile for a moment.
      await rm(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 }).catch(() => undefined)
    },
  }
}

/** A page's pass report as a counted pass: its time, and everything wrong with it. */
export function toPass(variant: Variant, report: PageReport, assets: SiteAsset[]): Pass {
  const reads = report.reads ?? []
  const facts = report.facts ?? {}
  const problems = checkReads(reads, assets)
  const viaSw = variant !== 'http'
  for (const read of reads) {
    if (read.viaSw !== undefined && read.viaSw !== viaSw) problems.push(`${read.path}: ${viaSw ? 'not handled by the service worker' : 'handled by a service worker'}`)
  }
  if (variant === 'workbox' && report.step === 'cold' && facts.cached !== true) problems.push('Cache Storage never held every asset')
  if (variant === 'swarmcdn') {
    if (facts.peers !== 0) problems.push(`${facts.peers} peers connected (expected none)`)
    for (const read of reads) {
      if (report.step === 'cold' && read.sources && /store|peers/.test(read.sources)) problems.push(`${read.path}: cold read came from ${read.sources} (expected the origin only)`)
      if (report.step === 'warm' && read.sources !== 'store') problems.push(`${read.path}: warm read came from ${read.sources ?? 'not the SW'} (expected store)`)
    }
  }
  return { totalMs: reads.reduce((sum, read) => sum + read.ms, 0), wallMs: report.wallMs ?? 0, reads, facts, problems }
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
