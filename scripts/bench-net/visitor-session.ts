// One visitor of a benchmark run: its own headless Chromium inside its namespace, a fresh profile,
// the home page first (where swarmcdn's service worker installs, as on a site's entry page), then the
// measured page. Only the public surface is read: the page's own timing (bench-site.ts),
// `window.swarmcdn` when present, and the origin's byte log (by the visitor's public address).

import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import type { EmulatedInternet, Visitor } from '../../e2e/net/emulated-internet.ts'
import { newShimmedContext } from '../../e2e/net/chromium-in-netns.ts'
import type { BenchSite } from './bench-site.ts'
import { cpuBetween, sampleCpu, type CpuUsage } from './cpu-usage.ts'
import { startWorkerProfiler } from './worker-profiler.ts'

export type Variant = 'http' | 'swarmcdn'

export interface PageTiming {
  loadMs: number
  images: Array<{ path: string; ms: number; width?: number; error?: string }>
  download: { path: string; ms: number; status?: number; bytes?: number; sha256?: string; error?: string }
  video: { path: string; ms: number; how?: string; duration?: number; error?: string }
  errors: string[]
  /** Main-thread tasks over 50 ms during the load (PerformanceObserver 'longtask'). */
  longTasks?: { count: number; ms: number }
}

export interface OpenVisitor {
  visitor: Visitor
  browser: Browser
  page: Page
  /** ms from opening the home page until a service worker controlled it (swarmcdn), or null. */
  controlledAfterMs: number | null
}

export interface LoadOutcome {
  timing: PageTiming | null
  error: string | null
  /** window.swarmcdn.stats() after the load, when the page has it. */
  swarmcdnStats: unknown
  /** window.swarmcdn.ready. */
  ready: unknown
  /** The page's resource timings (ms from navigation): when each request was made, reached the service worker, and was answered. */
  resources: ResourceTiming[] | null
  /** The machine's CPU from navigation to the load, by visitor namespace and process. */
  cpu: CpuUsage | null
}

export interface ResourceTiming {
  path: string
  startMs: number
  /** 0 when no service worker handled it. */
  workerStartMs: number
  /** Where a service worker's static routes sent it ('network'), or null when none matched. */
  routedTo: string | null
  responseStartMs: number
  endMs: number
}

const CONTROL_TIMEOUT_MS = 20_000

/** Starts every visitor's browser (no page yet), a few at a time: start-up is not what is measured. */
export async function launchBrowsers(net: EmulatedInternet, site: BenchSite, concurrency = 4): Promise<Browser[]> {
  const origin = new URL(site.baseUrl).origin
  const browsers: Browser[] = new Array(net.visitors.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, net.visitors.length) }, async () => {
    while (next < net.visitors.length) {
      const index = next++
      browsers[index] = await net.launchBrowser(net.visitors[index], { secureOrigins: [origin] })
    }
  }))
  return browsers
}

/** The visitor arrives at the site: a fresh profile opens the home page (the SW installs there). */
export async function openVisitor(browser: Browser, visitor: Visitor, site: BenchSite, variant: Variant): Promise<OpenVisitor> {
  const context = await newShimmedContext(browser, { serviceWorkers: variant === 'http' ? 'block' : 'allow' })
  // Diagnostics: when this page's agent first had a peer (ms after navigation start), for the log.
  await context.addInitScript(() => {
    const w = window as unknown as { swarmcdn?: { on(event: string, listener: (detail: unknown) => void): void }; __firstPeerMs?: number }
    const hook = () => {
      if (!w.swarmcdn) return setTimeout(hook, 5)
      w.swarmcdn.on('peer', (detail) => {
        if (w.__firstPeerMs === undefined && ((detail as { peers?: number })?.peers ?? 0) > 0) w.__firstPeerMs = Math.round(performance.now())
      })
    }
    hook()
    // Diagnostics: when the agent's tracker socket opened and first heard back (the first announce
    // reply tells a visitor alone that nobody is there, and its SW stops holding HTTP back).
    const Native = window.WebSocket
    const marks: Record<string, number> = {}
    ;(window as unknown as { __tracker: Record<string, number> }).__tracker = marks
    const mark = (name: string) => void (marks[name] ??= Math.round(performance.now()))
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols)
        mark('createdMs')
        this.addEventListener('open', () => mark('openMs'))
        this.addEventListener('message', (event) => {
          mark('firstMessageMs')
          if (typeof event.data === 'string' && event.data.includes('"answer"')) mark('firstAnswerMs')
          if (typeof event.data === 'string' && event.data.includes('"offer"')) mark('firstOfferMs')
        })
      }
      override send(data: string | ArrayBufferLike | Blob | ArrayBufferView) {
        if (typeof data === 'string' && data.includes('"offer"') && !data.includes('"offers":[]')) mark('offersSentMs')
        if (typeof data === 'string' && data.includes('"answer"')) mark('answerSentMs')
        super.send(data)
      }
    }
    // The first WebRTC connection's milestones: where the time to a visitor's first peer goes.
    const NativePeer = window.RTCPeerConnection
    if (NativePeer) {
      window.RTCPeerConnection = class extends NativePeer {
        constructor(config?: RTCConfiguration) {
          super(config)
          mark('rtcCreatedMs')
          this.addEventListener('icecandidate', (event) => / typ srflx/.test(event.candidate?.candidate ?? '') && mark('rtcSrflxMs'))
          this.addEventListener('icegatheringstatechange', () => this.iceGatheringState === 'complete' && mark('rtcGatheredMs'))
          this.addEventListener('iceconnectionstatechange', () => this.iceConnectionState === 'connected' && mark('rtcIceConnectedMs'))
          this.addEventListener('connectionstatechange', () => this.connectionState === 'connected' && mark('rtcConnectedMs'))
          this.addEventListener('datachannel', (event) => event.channel.addEventListener('open', () => mark('rtcChannelOpenMs')))
        }
        override createDataChannel(label: string, init?: RTCDataChannelInit) {
          const channel = super.createDataChannel(label, init)
          channel.addEventListener('open', () => mark('rtcChannelOpenMs'))
          return channel
        }
      } as typeof RTCPeerConnection
    }
  })
  const page = await context.newPage()
  const started = Date.now()
  await page.goto(new URL(site.homePath, site.baseUrl).href)
  let controlledAfterMs: number | null = null
  if (variant === 'swarmcdn') {
    const controlled = await page.waitForFunction(() => !!navigator.serviceWorker?.controller, null, { timeout: CONTROL_TIMEOUT_MS }).then(() => true, () => false)
    if (controlled) controlledAfterMs = Date.now() - started
  }
  return { visitor, browser, page, controlledAfterMs }
}

/** Navigates to the measured page and waits for its load as bench-site.ts defines it. */
export async function loadMeasuredPage(open: OpenVisitor, site: BenchSite, timeoutMs: number, profileFile?: string): Promise<LoadOutcome> {
  const { page } = open
  // The page's main thread (where the peer agent runs), sampled from before navigation to the load.
  const profiler = profileFile ? await page.context().newCDPSession(page) : null
  if (profiler) {
    await profiler.send('Profiler.enable')
    await profiler.send('Profiler.start')
  }
  const workerProfiler = profileFile ? await startWorkerProfiler(open.browser, new URL(site.baseUrl).origin).catch(() => null) : null
  const cpuBefore = sampleCpu()
  try {
    await page.goto(new URL(site.pagePath, site.baseUrl).href, { waitUntil: 'domcontentloaded', timeout: timeoutMs })
    const timing = await Promise.race([
      page.evaluate(() => (window as unknown as { __bench: Promise<PageTiming> }).__bench),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`page not loaded within ${timeoutMs} ms`)), timeoutMs)),
    ])
    const cpu = cpuBetween(cpuBefore, sampleCpu())
    const [swarmcdnStats, ready] = await page.evaluate(async () => {
      const api = (window as unknown as { swarmcdn?: { stats(): Promise<unknown>; ready: Promise<unknown> } }).swarmcdn
      if (!api) return [null, null]
      const ready = await Promise.race([api.ready, new Promise((resolve) => setTimeout(() => resolve('pending'), 2000))])
      // Bytes per asset and source, straight from the SW (the page API reports only totals).
      type Trace = Array<[number, string, string, number, number]>
      const fromSw = await new Promise<{ assets: unknown; scheduler: unknown; storeWrites: unknown; trace: Trace | null } | null>((resolve) => {
        const controller = navigator.serviceWorker?.controller
        if (!controller) return resolve(null)
        const channel = new MessageChannel()
        setTimeout(() => resolve(null), 1500)
        channel.port1.onmessage = (event) => {
          const reply = event.data as { stats?: { assets?: unknown }; scheduler?: unknown; storeWrites?: unknown; trace?: Trace }
          // The SW's timeline, in ms from this page's navigation (as the page's own timings).
          const trace = reply?.trace?.map(([at, ...rest]) => [Math.round(at - performance.timeOrigin), ...rest] as Trace[number]) ?? null
          resolve({ assets: reply?.stats?.assets ?? null, scheduler: reply?.scheduler ?? null, storeWrites: reply?.storeWrites ?? null, trace })
        }
        controller.postMessage({ type: 'swarmcdn:get-stats' }, [channel.port2])
      })
      const stats = await api.stats().catch(() => null)
      const firstPeerMs = (window as unknown as { __firstPeerMs?: number }).__firstPeerMs ?? null
      const tracker = (window as unknown as { __tracker?: Record<string, number> }).__tracker ?? null
      return [stats ? { ...stats, assets: fromSw?.assets ?? null, scheduler: fromSw?.scheduler ?? null, storeWrites: fromSw?.storeWrites ?? null, trace: fromSw?.trace ?? null, firstPeerMs, tracker } : null, ready]
    })
    const resources = await page.evaluate(() =>
      (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).map((entry) => ({
        path: new URL(entry.name).pathname,
        startMs: Math.round(entry.startTime),
        workerStartMs: Math.round(entry.workerStart),
        responseStartMs: Math.round(entry.responseStart),
        endMs: Math.round(entry.responseEnd),
        routedTo: (entry as PerformanceResourceTiming & { workerMatchedSourceType?: string }).workerMatchedSourceType || null,
      })),
    )
    // When the loader and the agent chunk were asked for and arrived: what delays the agent delays P2P.
    if (swarmcdnStats) (swarmcdnStats as { scripts?: ResourceTiming[] }).scripts = resources.filter((entry) => /swarmcdn[^/]*\.js$/.test(entry.path))
    if (profiler && profileFile) {
      const { profile } = await profiler.send('Profiler.stop')
      await mkdir(dirname(profileFile), { recursive: true })
      await writeFile(profileFile, JSON.stringify(profile))
      const workerProfile = await workerProfiler?.stop()
      if (workerProfile) await writeFile(profileFile.replace(/\.cpuprofile$/, '-sw.cpuprofile'), JSON.stringify(workerProfile))
    }
    return { timing, error: timing.errors.length > 0 ? timing.errors.join('; ') : null, swarmcdnStats, ready, resources, cpu }
  } catch (error) {
    return { timing: null, error: (error as Error).message.split('\n')[0], swarmcdnStats: null, ready: null, resources: null, cpu: null }
  }
}

/** The page's own bytes against the files: the download's hash, every image decoded, the video's length. */
export function checkTiming(timing: PageTiming, site: BenchSite): string[] {
  const problems: string[] = []
  const download = site.assets.find((a) => a.kind === 'download')!
  if (timing.download.sha256 !== download.sha256) problems.push(`download: ${timing.download.bytes} B, sha256 differs from the file`)
  for (const image of timing.images) if (!(image.width && image.width > 0)) problems.push(`${image.path}: not decoded`)
  if (timing.video.error || !timing.video.how) problems.push(`video: ${timing.video.error ?? 'not loaded'}`)
  return problems
}

