// The benchmark's scenarios, run once per variant (plain HTTP or swarmcdn) on a fresh emulated
// internet: the same pages, network and origin profile.
//   sequential: visitors arrive one after another, each once the previous page has loaded, and stay.
//   crowd: every visitor opens the home page, then all arrive at the measured page within a window.

import { join } from 'node:path'
import type { EmulatedInternet } from '../../e2e/net/emulated-internet.ts'
import { getJsonViaSocket } from '../../e2e/net/unix-socket-relay.ts'
import { inNs } from '../../e2e/net/host-command.ts'
import type { BenchSite } from './bench-site.ts'
import type { OriginRequestRecord } from '../../origin-tools/src/origin/byte-counter.ts'
import { formatWaste, originWaste, type OriginWaste } from './origin-waste.ts'
import { checkTiming, launchBrowsers, loadMeasuredPage, openVisitor, type OpenVisitor, type PageTiming, type ResourceTiming, type Variant } from './visitor-session.ts'
import type { CpuUsage } from './cpu-usage.ts'

export type ScenarioName = 'sequential' | 'crowd'

export interface OriginStats {
  totalBytes: number
  paths?: Record<string, { bytes: number; requests: number }>
  clients: Record<string, { bytes: number; requests: number }>
}

export interface VisitorResult {
  visitor: number
  /** When it navigated to the measured page, ms after the scenario's first arrival. */
  arrivedAtMs: number
  /** Wall-clock time of the arrival (Date.now()), to line up outside captures with this load. */
  arrivedAtEpochMs: number
  loadMs: number | null
  error: string | null
  /** Origin body bytes to this visitor's address while its page loaded. */
  originBytes: number
  /** 1 − originBytes / page bytes. */
  offload: number
  /**
   * Bytes the origin's link actually sent (its interface's counter, IP headers and tracker traffic
   * included) while this page loaded. originBytes counts what the origin handed to its sockets: a Range
   * request aborted while the kernel still held megabytes of it counts them there, not here.
   */
  originLinkBytes: number
  /** TCP segments the origin sent again during this load (all its clients). */
  originRetransmits: number
  /** Origin body bytes and requests per path while its page loaded (all addresses: in the sequential scenario, this visitor's). */
  originPaths: Record<string, { bytes: number; requests: number }>
  /** This visitor's origin requests while its page loaded (times in ms after its arrival), and the bytes they sent twice. */
  originRequests: Array<Omit<OriginRequestRecord, 'client'>>
  originWaste: OriginWaste
  controlledAfterMs: number | null
  timing: PageTiming | null
  swarmcdnStats: unknown
  ready: unknown
  /** The page's resource timings: when it asked for each asset and when the answer started and ended. */
  resources: ResourceTiming[] | null
  /** The machine's CPU during the load (every visitor's browser and the servers), by namespace and process. */
  cpu: CpuUsage | null
}

export interface ScenarioResult {
  scenario: ScenarioName
  variant: Variant
  originMbit: number
  visitors: VisitorResult[]
  /** Origin body bytes from the first arrival until the last load ended (all addresses). */
  originBytes: number
  /** originBytes / page bytes. */
  originCopies: number
  wallMs: number
}

export interface ScenarioOptions {
  net: EmulatedInternet
  site: BenchSite
  variant: Variant
  scenario: ScenarioName
  originMbit: number
  /** Unix socket reaching the origin (unix-socket-relay.ts). */
  originSocket: string
  pageTimeoutMs: number
  crowdWindowMs: number
  /** Write a CPU profile of each measured page's main thread here (bench:net --cpu-profile). */
  profileDir?: string
  log: (line: string) => void
}

const stats = (o: ScenarioOptions) => getJsonViaSocket<OriginStats>(o.originSocket, '/__swarmcdn/origin-stats')
const requestLog = (o: ScenarioOptions, after: number) => getJsonViaSocket<{ nextId: number; requests: OriginRequestRecord[] }>(o.originSocket, `/__swarmcdn/origin-requests?after=${after}`)
const clientBytes = (s: OriginStats, ip: string) => s.clients?.[ip]?.bytes ?? 0
/** Bytes sent so far on the origin's link to the internet. */
const linkTxBytes = async (o: ScenarioOptions) => Number((await inNs(o.net.originNs, 'cat', ['/sys/class/net/eth0/statistics/tx_bytes'])).trim())
/** TCP segments the origin has sent again so far (lost on a shaped link: link bytes beyond the body's). */
async function retransmittedSegments(o: ScenarioOptions): Promise<number> {
  const lines = (await inNs(o.net.originNs, 'cat', ['/proc/net/snmp'])).split('\n').filter((line) => line.startsWith('Tcp:'))
  const [names, values] = lines.map((line) => line.split(/\s+/))
  return Number(values?.[names?.indexOf('RetransSegs') ?? -1] ?? 0)
}

async function measure(o: ScenarioOptions, open: OpenVisitor, firstArrival: number): Promise<VisitorResult> {
  const before = await stats(o)
  const linkBefore = await linkTxBytes(o)
  const retransBefore = await retransmittedSegments(o)
  const logBefore = (await requestLog(o, 1e12)).nextId - 1
  const arrivedAt = Date.now()
  const arrivedAtMs = arrivedAt - firstArrival
  const outcome = await loadMeasuredPage(open, o.site, o.pageTimeoutMs, o.profileDir && join(o.profileDir, `${o.scenario}-${o.originMbit}mbit-${o.variant}-visitor${open.visitor.index + 1}.cpuprofile`))
  const after = await stats(o)
  const mine = (await requestLog(o, logBefore)).requests.filter((r) => r.client === open.visitor.publicIp)
  const originRequests = mine.map(({ client: _client, ...r }) => ({ ...r, startMs: r.startMs - arrivedAt, endMs: r.endMs === null ? null : r.endMs - arrivedAt }))
  const waste = originWaste(mine)
  const originLinkBytes = (await linkTxBytes(o)) - linkBefore
  const originRetransmits = (await retransmittedSegments(o)) - retransBefore
  const originBytes = clientBytes(after, open.visitor.publicIp) - clientBytes(before, open.visitor.publicIp)
  const originPaths: VisitorResult['originPaths'] = {}
  for (const [path, entry] of Object.entries(after.paths ?? {})) {
    const was = before.paths?.[path] ?? { bytes: 0, requests: 0 }
    if (entry.requests > was.requests || entry.bytes > was.bytes) originPaths[path] = { bytes: entry.bytes - was.bytes, requests: entry.requests - was.requests }
  }
  const problems = outcome.timing ? checkTiming(outcome.timing, o.site) : []
  const error = [outcome.error, ...problems].filter(Boolean).join('; ') || null
  const result: VisitorResult = {
    visitor: open.visitor.index + 1,
    arrivedAtMs,
    arrivedAtEpochMs: arrivedAt,
    loadMs: outcome.timing && !error ? Math.round(outcome.timing.loadMs) : null,
    error,
    originBytes,
    offload: 1 - originBytes / o.site.pageBytes,
    originLinkBytes,
    originRetransmits,
    originPaths,
    originRequests,
    originWaste: waste,
    controlledAfterMs: open.controlledAfterMs,
    timing: outcome.timing,
    swarmcdnStats: outcome.swarmcdnStats,
    ready: outcome.ready,
    resources: outcome.resources,
    cpu: outcome.cpu,
  }
  o.log(`  ${o.variant.padEnd(8)} visitor ${result.visitor}: ${result.loadMs !== null ? `${(result.loadMs / 1000).toFixed(2)} s` : `FAILED (${error})`}, origin ${(originBytes / 1e6).toFixed(1)} MB (link ${(originLinkBytes / 1e6).toFixed(1)} MB, ${originRetransmits} segments resent), offload ${(result.offload * 100).toFixed(0)}%${longTaskSummary(outcome.timing)}${cpuSummary(outcome.cpu)}${peerSummary(outcome.swarmcdnStats)}`)
  o.log(`    ${formatWaste(waste)}`)
  return result
}

/** Main-thread long tasks during the load: the peer agent shares that thread. */
function longTaskSummary(timing: PageTiming | null): string {
  return timing?.longTasks ? ` · main thread busy ${(timing.longTasks.ms / 1000).toFixed(2)} s in ${timing.longTasks.count} long tasks` : ''
}

/** The machine's CPU during the load: a busy machine makes every load slower, plain HTTP's too. */
function cpuSummary(cpu: CpuUsage | null): string {
  if (!cpu) return ''
  const top = Object.entries(cpu.byPlace).slice(0, 4).map(([place, sec]) => `${place} ${sec.toFixed(1)}`)
  return ` · CPU ${cpu.busySec.toFixed(1)} s (${(cpu.busyShare * 100).toFixed(0)}% of all cores; ${top.join(', ')})`
}

/** From the page's stats: bytes from peers, what happened to its piece requests, and its peers' credit windows. */
function peerSummary(stats: unknown): string {
  const s = stats as { bytes?: { peers?: number }; peers?: number; transfers?: Record<string, number>; windowsBytes?: number[]; firstPeerMs?: number | null; scheduler?: Record<string, number> | null; storeWrites?: { readerWaitMs: number; maxPendingWriteBytes: number } | null; tracker?: Record<string, number> | null; scripts?: Array<{ path: string; startMs: number; endMs: number }> } | null
  if (!s?.bytes) return ''
  const t = s.transfers
  const perServed = (ms: number | undefined) => `${Math.round((ms ?? 0) / Math.max(1, t?.served ?? 0))}`
  const serving = t?.served ? `; served ${t.served} pieces, per piece ms: queued ${perServed(t.servedQueuedMs)}, store read ${perServed(t.servedReadMs)}, credit wait ${perServed(t.servedCreditWaitMs)}, upload limit ${perServed(t.servedUploadWaitMs)}, channel buffer ${perServed(t.servedDrainWaitMs)}` : ''
  const transfers = t ? `; requests ${t.requests}, stalled ${t.stalls}${t.stalls ? ` (${t.stallsAfterBytes ?? 0} part-received, ${t.stallsWhileQueued ?? 0} queued, ${t.stallsPeerActive ?? 0} while the peer sent other chunks)` : ''}, rejected ${t.rejects}, cancelled ${t.cancels}, most open at a peer ${t.maxOpenPerPeer}${serving}` : ''
  const windows = s.windowsBytes?.length ? `; windows ${s.windowsBytes.map((b) => `${Math.round(b / 1024)}K`).join(' ')}` : ''
  const first = typeof s.firstPeerMs === 'number' ? ` (first at ${(s.firstPeerMs / 1000).toFixed(2)} s)` : ''
  const sw = s.scheduler ? `; SW asked peers ${s.scheduler.asked}, delivered ${s.scheduler.delivered}, failed ${s.scheduler.failed}, overdue ${s.scheduler.overdue}, stalled HTTP runs ${s.scheduler.stalledRuns ?? 0}` : ''
  const writes = s.storeWrites ? `; readers waited ${s.storeWrites.readerWaitMs} ms for the store (most pending ${(s.storeWrites.maxPendingWriteBytes / 1e6).toFixed(1)} MB)` : ''
  const scripts = s.scripts?.length ? `; ${s.scripts.map((entry) => `${entry.path.split('/').pop()} ${entry.startMs}–${entry.endMs} ms`).join(', ')}` : ''
  const tracker = s.tracker ? `; tracker socket made ${s.tracker.createdMs} ms, open ${s.tracker.openMs} ms, first reply ${s.tracker.firstMessageMs} ms` : ''
  return ` · peers ${((s.bytes.peers ?? 0) / 1e6).toFixed(1)} MB from ${s.peers ?? 0} connections${first}${transfers}${sw}${writes}${windows}${scripts}${tracker}`
}

/** What a visitor's agent has served in all (its page stays open as a peer). */
async function servingSummary(open: OpenVisitor): Promise<string> {
  const t = await open.page.evaluate(async () => ((await window.swarmcdn?.stats()) as { transfers?: Record<string, number> } | undefined)?.transfers ?? null).catch(() => null)
  if (!t?.served) return ': served nothing'
  const per = (ms: number | undefined) => Math.round((ms ?? 0) / t.served)
  return `: served ${t.served} pieces, per piece ms: queued ${per(t.servedQueuedMs)}, store read ${per(t.servedReadMs)}, credit wait ${per(t.servedCreditWaitMs)}, upload limit ${per(t.servedUploadWaitMs)}, channel buffer ${per(t.servedDrainWaitMs)}`
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const visitors = o.net.visitors
  const results: VisitorResult[] = []
  let startBytes = 0
  let firstArrival = 0
  const browsers = await launchBrowsers(o.net, o.site)
  if (o.scenario === 'sequential') {
    const earlier: OpenVisitor[] = []
    for (const [i, visitor] of visitors.entries()) {
      const open = await openVisitor(browsers[i], visitor, o.site, o.variant)
      if (results.length === 0) {
        firstArrival = Date.now()
        startBytes = (await stats(o)).totalBytes
      }
      results.push(await measure(o, open, firstArrival))
      // The senders' side of this load: what the visitors already there served, and what held them up.
      if (o.variant === 'swarmcdn') for (const sender of earlier) o.log(`    visitor ${sender.visitor.index + 1} so far${await servingSummary(sender)}`)
      earlier.push(open)
    }
  } else {
    // Everyone opens the home page first, then all arrive at the measured page within the window.
    const opened = await Promise.all(visitors.map((visitor, i) => openVisitor(browsers[i], visitor, o.site, o.variant)))
    startBytes = (await stats(o)).totalBytes
    firstArrival = Date.now()
    const gap = opened.length > 1 ? o.crowdWindowMs / (opened.length - 1) : 0
    results.push(...await Promise.all(opened.map(async (open, i) => {
      await new Promise((resolve) => setTimeout(resolve, Math.round(i * gap)))
      return measure(o, open, firstArrival)
    })))
  }
  const wallMs = Date.now() - firstArrival
  const originBytes = (await stats(o)).totalBytes - startBytes
  return { scenario: o.scenario, variant: o.variant, originMbit: o.originMbit, visitors: results, originBytes, originCopies: originBytes / o.site.pageBytes, wallMs }
}
