// `npm run bench:sw` (and the second half of `npm run bench`): swarmcdn's service worker paths against
// Workbox CacheFirst and plain HTTP in headless Chromium on loopback, same page, same run (issue 11).
//
//   npm run bench:sw -- --help

import { Command, Option, InvalidArgumentError } from 'commander'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hasChromium, CHROMIUM_PATH } from '../e2e/helpers/browser.ts'
import { ensureBenchMediaForFlags } from './bench-net/bench-media.ts'
import { createSites } from './bench-sw-paths/sites.ts'
import { buildBundles, fileFingerprint, freePort, openTree, startServe, type ServeProcess } from './bench-sw-paths/swarmcdn-tree.ts'
import { startCollector, type Collector, type Measure, type Variant, type VisitSettings } from './bench-sw-paths/visits.ts'
import { MEASURES, formatTable, summarizeMeasure, summarizeRatios, type RunSamples } from './bench-sw-paths/report.ts'

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url))

const positive = (text: string) => {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number')
  return n
}
const count = (min: number) => (text: string) => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > 50) throw new InvalidArgumentError(`expected an integer ${min}–50`)
  return n
}
const variantName = (text: string): Variant => {
  if (text !== 'http' && text !== 'workbox' && text !== 'swarmcdn') throw new InvalidArgumentError('expected http, workbox or swarmcdn')
  return text
}
const list = <T>(parse: (item: string) => T) => (text: string) => text.split(',').map((item) => parse(item.trim()))

const program = new Command('bench:sw')
  .description('swarmcdn\'s service worker warm and cold paths vs Workbox CacheFirst and plain HTTP, in headless Chromium on loopback (issue 11).')
  .addOption(new Option('--runs <n>', 'measured runs; each runs every variant once, in a rotating order').argParser(count(1)).default(5))
  .addOption(new Option('--warmup <n>', 'runs before the measured ones, not counted (browser, disk cache and JIT warm-up)').argParser(count(0)).default(1))
  .addOption(new Option('--swarmcdn-dir <dir>', 'the swarmcdn checkout whose CLI builds and serves the site (its sw/ is what is measured)').env('SWARMCDN_BENCH_DIR').default(REPO_ROOT, 'this repository'))
  .addOption(new Option('--no-build', 'use that checkout\'s dist/ bundles as they are (default: `npm run build` there first)'))
  .addOption(new Option('--images-kb <list>', 'photo sizes, kB (each must stay above swarmcdn\'s 256 KiB minimum)').argParser(list(positive)).default([300, 500, 800, 1200, 1600, 3000], '300,500,800,1200,1600,3000'))
  .addOption(new Option('--video-seconds <s>', 'video length').argParser(positive).default(12))
  .addOption(new Option('--video-kbit <kbit>', 'video bitrate (12 s × 6000 kbit/s ≈ 9 MB)').argParser(positive).default(6000))
  .addOption(new Option('--download-mb <mb>', 'download size').argParser(positive).default(2.6))
  .addOption(new Option('--settle-ms <ms>', 'pause after each page has loaded (and swarmcdn.ready settled) before its pass').argParser((t) => (t === '0' ? 0 : positive(t))).default(300))
  .addOption(new Option('--pass-timeout-s <s>', 'a pass (every asset read once) not done by then fails its visit, naming the asset it was reading').argParser(positive).default(20))
  .addOption(new Option('--visit-timeout-s <s>', 'a visit (browser start to its last pass) not done by then fails').argParser(positive).default(60))
  .addOption(new Option('--variants <list>', 'which variants to visit (a subset of http,workbox,swarmcdn: e.g. swarmcdn alone to chase a swarmcdn stall; ratios need both sides)').argParser(list(variantName)).default(['http', 'workbox', 'swarmcdn'], 'http,workbox,swarmcdn'))
  .addOption(new Option('--chromium-log <dir>', 'keep each visit\'s Chromium stderr (--enable-logging=stderr: service worker console messages included) in <dir>/<visit>.log'))
  .addOption(new Option('--out <dir>', 'folder for the JSON results').default(join(REPO_ROOT, 'bench-results')))
  .addHelpText('after', `
Page: 8 assets, ≈19 MB (6 JPEG photos, a WebM video, a download), all swarmcdn assets. A pass = the
page fetches each asset and reads its body whole (arrayBuffer), one after the other; its time is the
sum of the per-asset times (performance.now() in the page). Bodies are checked by SHA-256 after the
timing; a pass with a wrong byte, a wrong status or the wrong path taken does not count.

Every visit is a fresh headless Chromium with a fresh profile and no automation attached (a DevTools
client's network instrumentation slowed each read measurably); the pages drive the visit themselves
and report to the bench. The service workers install on a light home page first.

  plain HTTP  the plain site, no service worker: cold.
  Workbox     CacheFirst SW (workbox-strategies + workbox-routing, bundled with esbuild) on the plain
              site's origin (same files); cold: controlled, Cache Storage empty; warm: a new
              navigation once everything is cached (after one untimed pass).
  swarmcdn    the site built and served by the checkout's own CLI (tracker on, no seeder, no other
              visitor: no peers); cold: controlled, store empty; warm: a new navigation once every
              asset comes from the store. swarmcdn pages are timed once window.swarmcdn.ready settled.

Runs alternate the variants in a rotating order; the table shows medians. Both origins are
\`swarmcdn serve\` child processes (same static server code).`)

async function main(): Promise<void> {
  program.parse()
  const opts = program.opts()
  if (!hasChromium) {
    console.error(`bench:sw needs Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`)
    process.exit(1)
  }
  const log = (line: string) => console.log(line)
  const started = Date.now()
  const tree = openTree(resolve(opts.swarmcdnDir))
  log(`swarmcdn checkout: ${tree.dir}${tree.git ? ` (${tree.git.head.slice(0, 10)}${tree.git.dirty ? ', uncommitted changes' : ''})` : ''}`)
  if (opts.build) buildBundles(tree)

  const media = await ensureBenchMediaForFlags({ imagesKb: opts.imagesKb as number[], videoSeconds: opts.videoSeconds, videoKbit: opts.videoKbit, downloadMb: opts.downloadMb }, log)
  const workDir = await mkdtemp(join(tmpdir(), 'swarmcdn-bench-sw-'))
  const servers: ServeProcess[] = []
  try {
    const swarmcdnPort = await freePort()
    const sites = await createSites({ workDir, media, tree, swarmcdnBaseUrl: `http://127.0.0.1:${swarmcdnPort}/` })
    const swBundle = await fileFingerprint(join(sites.swarmcdnDir, 'swarmcdn-sw.js'))
    log(`page: ${sites.assets.length} assets, ${(sites.totalBytes / 1e6).toFixed(1)} MB (${sites.assets.map((a) => `${a.path} ${(a.bytes / 1e6).toFixed(2)}`).join(', ')} MB)`)
    log(`swarmcdn-sw.js: ${(swBundle.bytes / 1024).toFixed(1)} KiB, sha256 ${swBundle.sha256.slice(0, 12)}`)

    const swarmcdnOrigin = await startServe(tree, sites.swarmcdnDir, swarmcdnPort, ['--no-seed'])
    servers.push(swarmcdnOrigin)
    const plainOrigin = await startServe(tree, sites.plainDir, await freePort(), ['--no-seed', '--no-tracker'])
    servers.push(plainOrigin)

    const collector: Collector = await startCollector()
    const runs: RunSamples[] = []
    const runLog: Array<{ order: Variant[]; failures: string[] }> = []
    try {
      if (opts.chromiumLog) await mkdir(opts.chromiumLog, { recursive: true })
      const settings: VisitSettings = { assets: sites.assets, settleMs: opts.settleMs, visitTimeoutMs: opts.visitTimeoutS * 1000, passTimeoutMs: opts.passTimeoutS * 1000, chromiumLogDir: opts.chromiumLog }
      const origins: Record<Variant, string> = { http: plainOrigin.origin, workbox: plainOrigin.origin, swarmcdn: swarmcdnOrigin.origin }
      const variants: Variant[] = opts.variants
      const total = opts.warmup + opts.runs
      for (let i = 0; i < total; i++) {
        const order = variants.map((_, k) => variants[(i + k) % variants.length])
        const samples: RunSamples = {}
        const failures: string[] = []
        for (const variant of order) {
          try {
            Object.assign(samples, await collector.visit(variant, origins[variant], settings))
          } catch (error) {
            const [first, ...detail] = (error as Error).message.split('\n')
            failures.push(`${variant}: ${first}`)
            if (detail.length) log(`${variant} visit failed: ${first}\n${detail.join('\n')}`)
          }
          // Let the closed browser's processes wind down before the next one starts.
          await new Promise((resolve) => setTimeout(resolve, 300))
        }
        const warmup = i < opts.warmup
        if (!warmup) {
          runs.push(samples)
          runLog.push({ order, failures })
        }
        const cell = (m: Measure) => (samples[m] ? `${Math.round(samples[m]!.totalMs)}${samples[m]!.problems.length ? '!' : ''}` : '–')
        log(`${warmup ? 'warm-up' : `run ${i - opts.warmup + 1}/${opts.runs}`} (${order.join(', ')}): http cold ${cell('http-cold')} · workbox cold ${cell('workbox-cold')} warm ${cell('workbox-warm')} · swarmcdn cold ${cell('swarmcdn-cold')} warm ${cell('swarmcdn-warm')} ms${failures.length ? ` · FAILED ${failures.join('; ')}` : ''}`)
      }
    } finally {
      await collector.close()
    }

    const summaries = MEASURES.map(({ measure }) => summarizeMeasure(runs, measure))
    const ratios = summarizeRatios(runs, summaries)
    const table = formatTable(summaries, ratios, sites.totalBytes)
    console.log(`\n${table}\n`)
    await mkdir(opts.out, { recursive: true })
    const file = join(opts.out, `bench-sw-paths-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
    await writeFile(file, JSON.stringify({
      date: new Date().toISOString(),
      durationMs: Date.now() - started,
      options: opts,
      swarmcdn: { dir: tree.dir, git: tree.git, swBundle },
      page: { bytes: sites.totalBytes, assets: sites.assets },
      definition: 'pass = the page fetches each asset and reads its body whole, in turn; ms = sum of per-asset performance.now() deltas; median over runs',
      summaries,
      ratios,
      runs: runs.map((samples, i) => ({ ...runLog[i], samples })),
      table,
    }, null, 2))
    log(`results: ${file} (${((Date.now() - started) / 1000).toFixed(0)} s)`)
    const failedVisits = runLog.flatMap((run) => run.failures)
    if (failedVisits.length) console.log(`visits that failed:\n${failedVisits.map((f) => `  ${f}`).join('\n')}`)
    if (failedVisits.length || summaries.some((s) => s.failed > 0 || s.counted === 0)) process.exitCode = 1
  } finally {
    await Promise.all(servers.map((server) => server.close()))
    await rm(workDir, { recursive: true, force: true })
  }
}

await main()
