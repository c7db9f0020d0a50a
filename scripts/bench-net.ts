// `npm run bench:net`: swarmcdn against plain HTTP on an emulated internet (e2e/net/): visitors behind
// NAT routers with shaped, delayed links, an origin with a capped link, a STUN server. Each scenario
// runs twice on a fresh network, once per variant: plain HTTP (the same pages, service workers
// blocked) and swarmcdn. Needs root (network namespaces); prints a table, writes JSON.
//
//   npm run bench:net -- --help

import { Command, Option, InvalidArgumentError } from 'commander'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createEmulatedInternet, spreadPeerRtts } from '../e2e/net/emulated-internet.ts'
import { emulationUnavailable } from '../e2e/net/emulation-support.ts'
import { ORIGIN_IP, STUN_IP, STUN_PORT, TRACKER_IP } from '../e2e/net/address-plan.ts'
import { BENCH_NET_PAGE_MEDIA, ensureBenchMediaForFlags } from './bench-net/bench-media.ts'
import { createBenchSite } from './bench-net/bench-site.ts'
import { runScenario, type ScenarioName, type ScenarioResult } from './bench-net/scenarios.ts'
import { formatTable, summarize } from './bench-net/report.ts'
import { list, oneOf, positive } from './bench-net/option-parsers.ts'
import { parsePieceLength } from '../origin-tools/src/option-parsers.ts'
import type { Variant } from './bench-net/visitor-session.ts'

/** Port of the tracker run apart from the origin (--tracker internet). */
const TRACKER_PORT = 8000

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url))
const CLI = join(REPO_ROOT, 'origin-tools/bin/swarmcdn.js')

const count = (text: string) => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > 32) throw new InvalidArgumentError('expected an integer 1–32')
  return n
}
const range = (text: string): [number, number] => {
  const [lo, hi = lo] = text.split('-').map(positive)
  if (hi < lo) throw new InvalidArgumentError('expected MIN-MAX with MIN ≤ MAX')
  return [lo, hi]
}

const program = new Command('bench:net')
  .description('swarmcdn vs plain HTTP on an emulated internet (network namespaces, NAT, tbf, an NFQUEUE delay line, STUN). Needs root.')
  .addOption(new Option('--sequential <n>', 'visitors in the sequential scenario (each arrives when the previous page has loaded, and stays)').argParser(count).default(4))
  .addOption(new Option('--crowd <n>', 'visitors in the flash crowd').argParser(count).default(8))
  .addOption(new Option('--crowd-window-ms <ms>', 'the crowd arrives spread evenly over this window').argParser(positive).default(1000))
  .addOption(new Option('--origin-rtt-ms <ms>', 'round trip visitor ↔ origin (and ↔ STUN, tracker)').argParser(positive).default(40))
  .addOption(new Option('--peer-rtt-ms <min-max>', 'round trip visitor ↔ visitor, spread over the pairs').argParser(range).default([20, 60], '20-60'))
  .addOption(new Option('--down-mbit <mbit>', 'each visitor\'s downlink').argParser(positive).default(40))
  .addOption(new Option('--up-mbit <mbit>', 'each visitor\'s uplink').argParser(positive).default(10))
  .addOption(new Option('--origin-mbit <list>', 'origin link profiles, shared by all visitors (comma-separated)').argParser(list(positive)).default([200, 20], '200,20'))
  .addOption(new Option('--queue-ms <ms>', 'buffer of every shaped link, in ms at its rate').argParser(positive).default(50))
  .addOption(new Option('--origin-cc <name>', 'TCP congestion control of the origin (a name from net.ipv4.tcp_available_congestion_control; the machine\'s own default may differ; cubic is Linux\'s)').default('cubic'))
  .addOption(new Option('--symmetric-nat', 'NAT routers map each destination to its own port (STUN alone cannot connect)').default(false))
  .addOption(new Option('--no-stun', 'no STUN server in the ICE configuration (only host candidates: visitors cannot connect)'))
  .addOption(new Option('--scenarios <list>', 'sequential, crowd').argParser(list(oneOf(['sequential', 'crowd'] as const))).default(['sequential', 'crowd'], 'sequential,crowd'))
  .addOption(new Option('--variants <list>', 'http, swarmcdn').argParser(list(oneOf(['http', 'swarmcdn'] as const))).default(['http', 'swarmcdn'], 'http,swarmcdn'))
  .addOption(new Option('--images-kb <list>', 'photo sizes, kB').argParser(list(positive)).default(BENCH_NET_PAGE_MEDIA.imagesKb, BENCH_NET_PAGE_MEDIA.imagesKb.join(',')))
  .addOption(new Option('--video-seconds <s>', 'video length').argParser(positive).default(BENCH_NET_PAGE_MEDIA.videoSeconds))
  .addOption(new Option('--video-kbit <kbit>', 'video bitrate (12 s × 7500 kbit/s ≈ 11 MB)').argParser(positive).default(BENCH_NET_PAGE_MEDIA.videoKbit))
  .addOption(new Option('--download-mb <mb>', 'download size').argParser(positive).default(BENCH_NET_PAGE_MEDIA.downloadMb))
  .addOption(new Option('--page-timeout-s <s>', 'a page not loaded by then counts as failed').argParser(positive).default(180))
  .addOption(new Option('--tracker <where>', 'where the site\'s tracker runs: origin (swarmcdn serve\'s own, behind the origin\'s capped link) or internet (swarmcdn tracker on an uncapped host)').choices(['origin', 'internet']).default('origin'))
  .addOption(new Option('--sw-config <json>', 'service worker settings for the swarmcdn variant, passed to swarmcdn build --sw-config (e.g. \'{"peerBudgetMs":2000}\')'))
  .addOption(new Option('--piece-length <bytes>', 'piece length of the swarmcdn variant, passed to swarmcdn build --piece-length (e.g. 256KiB; default: the CLI\'s automatic choice)').argParser(parsePieceLength))
  .addOption(new Option('--cpu-profile <dir>', 'write CPU profiles (.cpuprofile, open in Chromium DevTools) of each measured page\'s main thread and of its service worker (-sw.cpuprofile) into this folder'))
  .addOption(new Option('--out <dir>', 'folder for the JSON results').default(join(REPO_ROOT, 'bench-results')))
  .addHelpText('after', `
Page load time: from navigation start of the measured page until every image has decoded, the
download has been read whole and the video is fully buffered (or has played through); measured in
the page. Each visitor first opens the light home page (swarmcdn's service worker installs there),
then the measured page. Offload = 1 − origin bytes to that visitor's address during its load ÷ page
bytes; "copies of the page" = all origin bytes during the scenario ÷ page bytes.`)

async function main(): Promise<void> {
  program.parse()
  const opts = program.opts()
  const unavailable = emulationUnavailable()
  if (unavailable) {
    console.error(`bench:net cannot run here: ${unavailable}`)
    process.exit(1)
  }
  const log = (line: string) => console.log(line)
  const media = await ensureBenchMediaForFlags({ imagesKb: opts.imagesKb as number[], videoSeconds: opts.videoSeconds, videoKbit: opts.videoKbit, downloadMb: opts.downloadMb }, log)
  const workDir = await mkdtemp(join(tmpdir(), 'swarmcdn-bench-net-'))
  try {
    const stunUrl = `stun:${STUN_IP}:${STUN_PORT}`
    const site = await createBenchSite({
      workDir,
      media,
      baseUrl: `http://${ORIGIN_IP}/`,
      // ICE servers reach every page through the signed manifest, as on a real deployment.
      buildArgs: ['--ice-server', opts.stun ? stunUrl : 'none', ...(opts.tracker === 'internet' ? ['--tracker', `ws://${TRACKER_IP}:${TRACKER_PORT}`] : []), ...(opts.swConfig ? ['--sw-config', opts.swConfig as string] : []), ...(opts.pieceLength ? ['--piece-length', String(opts.pieceLength)] : [])],
    })
    log(`page: ${site.assets.length} assets, ${(site.pageBytes / 1e6).toFixed(1)} MB (${site.assets.map((a) => `${a.path} ${(a.bytes / 1e6).toFixed(2)} MB`).join(', ')})`)
    const results: ScenarioResult[] = []
    const started = Date.now()
    for (const originMbit of opts.originMbit as number[]) {
      for (const scenario of opts.scenarios as ScenarioName[]) {
        const visitorCount = scenario === 'sequential' ? opts.sequential : opts.crowd
        for (const variant of opts.variants as Variant[]) {
          log(`origin ${originMbit} Mbit/s (${opts.originCc}) · ${scenario} · ${variant}`)
          const net = await createEmulatedInternet({
            visitors: Array.from({ length: visitorCount }, () => ({ downMbit: opts.downMbit, upMbit: opts.upMbit, originRttMs: opts.originRttMs })),
            peerRttMs: spreadPeerRtts(visitorCount, opts.peerRttMs[0], opts.peerRttMs[1]),
            originMbit,
            queueMs: opts.queueMs,
            originCongestionControl: opts.originCc,
            symmetricNat: opts.symmetricNat,
            stun: opts.stun,
          })
          try {
            await net.start(net.originNs, 'swarmcdn serve', process.execPath, [CLI, 'serve', site.siteDir, '--host', ORIGIN_IP, '--port', '80', '--no-seed'], { ready: /swarmcdn serve: open/, timeoutMs: 60_000 })
            if (opts.tracker === 'internet') {
              await net.start(net.wanNs, 'swarmcdn tracker', process.execPath, [CLI, 'tracker', '--host', TRACKER_IP, '--port', String(TRACKER_PORT)], { ready: /tracker: ws:/, timeoutMs: 60_000 })
            }
            const originSocket = await net.relay(net.originNs, ORIGIN_IP, 80)
            results.push(await runScenario({ net, site, variant, scenario, originMbit, originSocket, pageTimeoutMs: opts.pageTimeoutS * 1000, crowdWindowMs: opts.crowdWindowMs, profileDir: opts.cpuProfile as string | undefined, log }))
          } finally {
            await net.close()
          }
        }
      }
    }
    const table = formatTable(results, site.pageBytes)
    console.log(`\n${table}\n`)
    await mkdir(opts.out, { recursive: true })
    const file = join(opts.out, `bench-net-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
    await writeFile(file, JSON.stringify({
      date: new Date().toISOString(),
      durationMs: Date.now() - started,
      options: opts,
      page: { bytes: site.pageBytes, assets: site.assets },
      definition: 'load = navigation start of the measured page until every image decoded, the download read whole, the video fully buffered or played through (in-page performance.now())',
      results: results.map((r) => ({ ...r, summary: summarize(r) })),
      table,
    }, null, 2))
    log(`results: ${file} (${((Date.now() - started) / 1000).toFixed(0)} s)`)
  } finally {
    await rm(workDir, { recursive: true, force: true })
  }
}

await main()
// The results are written: exit even if some handle is left open (seen in 2 of 7 runs: the process
// idled after its results, no child or socket left, holding the shared benchmark lock).
process.exit(0)
