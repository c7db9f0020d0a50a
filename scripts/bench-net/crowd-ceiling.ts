// `npm run bench:ceiling`: a flash crowd's best case on this machine, measured with no swarmcdn code:
// what no P2P design that takes one copy from the origin could beat here. N bare Chromium pages on the emulated internet of bench:net
// (NATs, shaped links, STUN), in one run per origin profile:
// - http: every visitor fetches the whole blob from the origin at the same moment (plain HTTP);
// - mesh: the visitors are connected in a full mesh first (not timed); at the same moment each fetches
//   its own 1/N of the blob from the origin and relays every chunk to every other visitor as it
//   arrives. The origin serves exactly one copy, the schedule is perfect and nothing is hashed,
//   stored or rendered: a lower bound on what swarmcdn's crowd can reach here.
// - mesh-store: mesh, and each received 64 KiB piece is hashed (SHA-1) and put in IndexedDB, as a
//   visitor's service worker must.
// - mesh-page: mesh-store, with the bench page's assets (bench:net's default photos, film and download,
//   end to end) as the blob, and each rendered as bench:net's page renders it as soon as it is whole:
//   a crowd's best case with the page's own work counted.
// - mesh-pull: mesh, but pulled as swarmcdn pulls: each visitor announces the 64 KiB pieces of its
//   share it holds, and the others ask for pieces, at most --pull-pieces in flight each.
// - newcomer-http / newcomer-peers: one new visitor gets the blob alone from the origin, or from the
//   N−1 others, who hold it in memory (the second-visitor case; with loopback-like links, see the README).
// Needs root; run under the heavy-work lock (it runs N browsers).

import { Command, Option, InvalidArgumentError } from 'commander'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { createEmulatedInternet, spreadPeerRtts, type EmulatedInternet } from '../../e2e/net/emulated-internet.ts'
import { emulationUnavailable } from '../../e2e/net/emulation-support.ts'
import { newShimmedContext } from '../../e2e/net/chromium-in-netns.ts'
import { ORIGIN_IP } from '../../e2e/net/address-plan.ts'
import { cpuBetween, sampleCpu } from './cpu-usage.ts'
import { percentile } from './report.ts'
import { list, oneOf, positive } from './option-parsers.ts'
import { BENCH_NET_PAGE_MEDIA, ensureBenchMediaForFlags } from './bench-media.ts'

const positives = list(positive)
const visitorCount = (text: string) => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 2 || n > 32) throw new InvalidArgumentError('expected a whole number from 2 to 32')
  return n
}
const VARIANTS = ['http', 'mesh', 'mesh-store', 'mesh-page', 'mesh-pull', 'newcomer-http', 'newcomer-peers'] as const
const DEFAULT_VARIANTS = ['http', 'mesh', 'mesh-store']
type Variant = (typeof VARIANTS)[number]

const program = new Command('bench:ceiling')
  .description('a flash crowd\'s best case on this machine with no swarmcdn code (raw WebRTC, a perfect schedule, one origin copy), side by side with plain HTTP')
  .addOption(new Option('--visitors <n>', 'visitors arriving at once (2 to 32)').argParser(visitorCount).default(8))
  .addOption(new Option('--mb <mb>', 'size of the page (one blob), MB (mesh-page: the bench page\'s own assets, 19.8 MB)').argParser(positive).default(19.8))
  .addOption(new Option('--origin-mbit <list>', 'origin link profiles (comma-separated)').argParser(positives).default([20, 200], '20,200'))
  .addOption(new Option('--variants <list>', `what to run per profile: ${VARIANTS.join(', ')}`).argParser(list(oneOf(VARIANTS))).default(DEFAULT_VARIANTS, DEFAULT_VARIANTS.join(',')))
  .addOption(new Option('--up-mbit <mbit>', 'uplink of each visitor').argParser(positive).default(10))
  .addOption(new Option('--down-mbit <mbit>', 'downlink of each visitor').argParser(positive).default(40))
  .addOption(new Option('--origin-rtt-ms <ms>', 'round trip visitor ↔ origin').argParser(positive).default(40))
  .addOption(new Option('--peer-rtt-ms <range>', 'round trips between visitors, min,max').argParser(positives).default([20, 60], '20,60'))
  .addOption(new Option('--queue-ms <ms>', 'buffer of every shaped link, ms at its rate').argParser(positive).default(50))
  .addOption(new Option('--pace-mbit <mbit>', 'each visitor paces its whole upload to this rate (below the uplink, so its buffer does not overflow)').argParser(positive).default(9))
  .addOption(new Option('--window-kib <kib>', 'at most this many bytes unacknowledged per connection').argParser(positive).default(64))
  .addOption(new Option('--chunk-kib <kib>', 'message size').argParser(positive).default(16))
  .addOption(new Option('--pull-pieces <n>', 'mesh-pull: pieces each visitor asks for at once').argParser(positive).default(4))
  .addOption(new Option('--timeout-s <s>', 'give up on a run after this long').argParser(positive).default(240))

interface VisitorResult {
  doneMs: number | null
  fromOrigin: number
  fromPeers: number
}

const MESH_PAGE = fileURLToPath(new URL('./crowd-ceiling-page.js', import.meta.url))

/** Connects pages i and j with one negotiated data channel (signalling through this process). */
async function connectPair(a: Page, b: Page, i: number, j: number, stunUrl: string): Promise<void> {
  const offer = await a.evaluate(({ peer, stunUrl }) => (window as any).mesh.offer(peer, stunUrl), { peer: j, stunUrl })
  const answer = await b.evaluate(({ peer, stunUrl, offer }) => (window as any).mesh.answer(peer, stunUrl, offer), { peer: i, stunUrl, offer })
  await a.evaluate(({ peer, answer }) => (window as any).mesh.accept(peer, answer), { peer: j, answer })
  await Promise.all([a.evaluate((peer) => (window as any).mesh.opened(peer), j), b.evaluate((peer) => (window as any).mesh.opened(peer), i)])
}

/** Where each of the bench page's assets lies in page.bin, and how the page renders it. */
interface PageAsset {
  kind: 'image' | 'video' | 'download'
  type: string
  start: number
  end: number
}

async function writeBenchPageBlob(workDir: string): Promise<PageAsset[]> {
  const media = await ensureBenchMediaForFlags(BENCH_NET_PAGE_MEDIA, (line) => console.log(line))
  const files: Array<[string, PageAsset['kind'], string]> = [
    ...media.images.map((image): [string, PageAsset['kind'], string] => [image.name, 'image', 'image/jpeg']),
    [media.video.name, 'video', 'video/webm'],
    [media.download.name, 'download', 'application/octet-stream'],
  ]
  const parts: Buffer[] = []
  const assets: PageAsset[] = []
  let at = 0
  for (const [name, kind, type] of files) {
    const bytes = await readFile(join(media.dir, name))
    parts.push(bytes)
    assets.push({ kind, type, start: at, end: at + bytes.length })
    at += bytes.length
  }
  await writeFile(join(workDir, 'page.bin'), Buffer.concat(parts))
  return assets
}

async function runVariant(net: EmulatedInternet, pages: Page[], variant: Variant, opts: Record<string, any>, pageAssets: PageAsset[]): Promise<{ visitors: VisitorResult[]; setupMs: number; originBytes: number }> {
  const n = pages.length
  for (const page of pages) await page.reload()
  if (variant === 'newcomer-peers') await Promise.all(pages.slice(1).map((page) => page.evaluate((url) => (window as any).mesh.prefetch(url), `http://${ORIGIN_IP}/blob.bin`)))
  const originSent = async () => Number(await pages[0]!.evaluate(async () => (await fetch('/sent')).text()))
  const sentBefore = await originSent()
  const setupStart = Date.now()
  if (variant !== 'http' && variant !== 'newcomer-http') {
    const pairs: Array<[number, number]> = []
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([i, j])
    await Promise.all(pairs.map(([i, j]) => connectPair(pages[i]!, pages[j]!, i, j, net.stunUrl!)))
  }
  const setupMs = Date.now() - setupStart
  const startAt = Date.now() + 1000
  const ofPage = variant === 'mesh-page'
  const totalBytes = ofPage ? pageAssets.at(-1)!.end : Math.round(opts.mb * 1e6)
  const params = {
    n, totalBytes, startAt, url: `http://${ORIGIN_IP}/${ofPage ? 'page' : 'blob'}.bin`, mode: variant, assets: ofPage ? pageAssets : null,
    pullPieces: opts.pullPieces, chunkBytes: opts.chunkKib * 1024, windowBytes: opts.windowKib * 1024, paceBytesPerSec: (opts.paceMbit * 1e6) / 8,
  }
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${variant}: not done after ${opts.timeoutS} s`)), opts.timeoutS * 1000 + 1000)))
  const visitors = await Promise.race([Promise.all(pages.map((page, index) => page.evaluate((p) => (window as any).mesh.run(p), { ...params, index }))), timeout]).finally(() => clearTimeout(timer))
  return { visitors, setupMs, originBytes: (await originSent()) - sentBefore }
}

/** CPU-seconds summed over the visitors' namespaces by process kind (`visitor chromium-renderer 51.9`). */
function cpuByKind(byPlace: Record<string, number>): string {
  const kinds = new Map<string, number>()
  for (const [place, sec] of Object.entries(byPlace)) {
    const [namespace = '', kind = ''] = place.split(' ')
    const key = `${/-v\d+$/.test(namespace) ? 'visitor' : namespace.replace(/^swcdnnet-\d+-/, '')} ${kind}`
    kinds.set(key, (kinds.get(key) ?? 0) + sec)
  }
  return [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([key, sec]) => `${key} ${sec.toFixed(1)}`).join(', ')
}

async function main(): Promise<void> {
  program.parse()
  const opts = program.opts()
  const unavailable = emulationUnavailable()
  if (unavailable) throw new Error(unavailable)
  const workDir = await mkdtemp(join(tmpdir(), 'swarmcdn-bench-ceiling-'))
  const totalBytes = Math.round(opts.mb * 1e6)
  await writeFile(join(workDir, 'blob.bin'), randomBytes(totalBytes))
  await writeFile(join(workDir, 'index.html'), '<!doctype html><title>ceiling</title>')
  const pageAssets = (opts.variants as Variant[]).includes('mesh-page') ? await writeBenchPageBlob(workDir) : []
  const rows: string[] = []
  try {
    for (const originMbit of opts.originMbit as number[]) {
      const net = await createEmulatedInternet({
        visitors: Array.from({ length: opts.visitors }, () => ({ downMbit: opts.downMbit, upMbit: opts.upMbit, originRttMs: opts.originRttMs })),
        peerRttMs: spreadPeerRtts(opts.visitors, opts.peerRttMs[0], opts.peerRttMs[1]),
        originMbit,
        queueMs: opts.queueMs,
        originCongestionControl: 'cubic',
      })
      try {
        await net.start(net.originNs, 'blob origin', process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./blob-origin.ts', import.meta.url)), workDir, ORIGIN_IP, '80'], { ready: /blob-origin: open/, timeoutMs: 30_000 })
        const pages: Page[] = []
        for (const visitor of net.visitors) {
          const context = await newShimmedContext(await net.launchBrowser(visitor))
          await context.addInitScript({ path: MESH_PAGE })
          const page = await context.newPage()
          page.on('crash', () => console.log(`page of visitor ${visitor.index + 1} crashed`))
          await page.goto(`http://${ORIGIN_IP}/`)
          pages.push(page)
        }
        for (const variant of opts.variants as Variant[]) {
          const cpuBefore = sampleCpu()
          const { visitors, setupMs, originBytes } = await runVariant(net, pages, variant, opts, pageAssets)
          const cpu = cpuBetween(cpuBefore, sampleCpu())
          const copies = originBytes / (variant === 'mesh-page' ? pageAssets.at(-1)!.end : totalBytes)
          const times = visitors.map((v) => v.doneMs).filter((ms): ms is number => ms !== null)
          const median = percentile(times, 50)!
          const line = `origin ${originMbit} Mbit/s · ${variant.padEnd(10)} median ${(median / 1000).toFixed(2)} s · p90 ${(percentile(times, 90)! / 1000).toFixed(2)} s · last ${(Math.max(...times) / 1000).toFixed(2)} s · origin ${copies.toFixed(2)} copies · CPU busy ${(cpu.busyShare * 100).toFixed(0)}%${variant.endsWith('http') ? '' : ` · mesh set up in ${(setupMs / 1000).toFixed(1)} s (not timed)`}`
          console.log(line)
          console.log(`  CPU-seconds ${cpu.busySec.toFixed(1)} by process kind: ${cpuByKind(cpu.byPlace)}`)
          console.log(`  per visitor: ${visitors.filter((v) => v.doneMs !== null).map((v) => `${((v.doneMs ?? NaN) / 1000).toFixed(1)} s (${(v.fromPeers / 1e6).toFixed(1)} MB from peers)`).join(', ')}`)
          rows.push(line)
        }
      } finally {
        await net.close()
      }
    }
    console.log(`\n${opts.visitors} visitors, ${opts.mb} MB each, ${opts.downMbit}/${opts.upMbit} Mbit/s down/up, origin RTT ${opts.originRttMs} ms, peer RTT ${opts.peerRttMs.join('–')} ms\n${rows.join('\n')}`)
  } finally {
    await rm(workDir, { recursive: true, force: true })
  }
}

await main()
process.exit(0)
