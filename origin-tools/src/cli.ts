// The `swarmcdn` command: wiring only. Each command lives in commands/.

import { Command, CommanderError, Option } from 'commander'
import { CliError } from './cli-error.ts'
import { keygen } from './commands/keygen.ts'
import { BUILD_DEFAULTS, buildResultJson, buildSite, buildSummary } from './commands/build.ts'
import { verifySite } from './commands/verify.ts'
import { loadPublicKey } from './keys.ts'
import { formatBytes } from './progress.ts'
import type { ManifestIceServer } from '../../core/manifest-format.ts'
import { collect, iceServersFromFlags, parseIceServer, parseBaseUrl, parseByteSize, parseHttpUrl, parsePieceLength, parsePort, parsePositiveNumber, parseSwConfig, parseTrackerUrl } from './option-parsers.ts'
import { absoluteTrackerUrl } from './commands/build.ts'
import { trackerCommand } from './commands/tracker.ts'
import { trackerLimitOptions, trackerLimitsFrom } from './tracker/tracker-options.ts'
import { seedCommand } from './commands/seed.ts'
import { serveCommand } from './commands/serve.ts'

const program = new Command()
  .name('swarmcdn')
  .description('Peer-to-peer CDN offload for websites: build, sign, verify and serve a site for swarmcdn.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  // Throw instead of exiting, so usage errors can exit with 2 (commands defined below inherit this).
  .exitOverride()

program
  .command('keygen')
  .description('Create an Ed25519 signing key (PKCS#8 PEM, mode 0600) and print its public key. Keep the key out of the deployed site.')
  .requiredOption('--out <file>', 'where to write the private key (refuses to overwrite)')
  .action(async (opts: { out: string }) => {
    const { publicKey } = await keygen(opts.out)
    process.stderr.write(`wrote private key ${opts.out} (keep it secret, never deploy it)\n`)
    process.stdout.write(`${publicKey}\n`)
  })

program
  .command('build')
  .description('Hash the site\'s large assets into standard torrents, write the manifest and sign it.')
  .argument('<site-dir>', 'folder holding the built site')
  .requiredOption('--key <file>', 'Ed25519 private key (from swarmcdn keygen)')
  .option('--base-url <url>', 'URL the site is deployed at (torrent url-list, scope)', parseBaseUrl, BUILD_DEFAULTS.baseUrl)
  .option('--tracker <url>', `WebSocket tracker, repeatable; a path means the site's own origin (default: ${BUILD_DEFAULTS.trackers[0]})`, collect(parseTrackerUrl))
  .option('--mirror <url>', 'HTTP mirror base URL tried after the origin, repeatable', collect(parseHttpUrl))
  .option('--min-size <bytes>', 'smallest file served over P2P', parseByteSize, BUILD_DEFAULTS.minSizeBytes)
  .option('--piece-length <bytes>', 'piece length, a power of two (default: automatic, ~1000 pieces, 64KiB–4MiB)', parsePieceLength)
  .option('--expires-in-days <days>', 'manifest lifetime', parsePositiveNumber, BUILD_DEFAULTS.expiresInDays)
  .option('--kill-switch', 'sign a manifest that makes every visitor\'s service worker step aside and unregister', false)
  .option('--sw-config <json>', 'service worker settings baked into swarmcdn-sw.js, e.g. \'{"storeBudgetBytes":268435456}\' (see docs/service-worker.md)', parseSwConfig)
  .option('--ice-server <url>', 'STUN/TURN server every visitor uses, repeatable: stun:HOST[:PORT], turn:USER:CREDENTIAL@HOST[:PORT][?transport=udp|tcp], or none (default: none for a localhost --base-url, else public STUN: stun.l.google.com:19302, stun.cloudflare.com:3478)', collect(parseIceServer))
  .option('--json', 'print one JSON object on stdout and nothing else', false)
  .action(async (siteDir: string, opts: {
    key: string; baseUrl: string; tracker?: string[]; mirror?: string[]; minSize: number
    pieceLength?: number; expiresInDays: number; killSwitch: boolean; json: boolean; swConfig?: Record<string, number>
    iceServer?: Array<ManifestIceServer | null>
  }) => {
    const result = await buildSite({
      siteDir,
      keyFile: opts.key,
      baseUrl: opts.baseUrl,
      trackers: opts.tracker ?? [...BUILD_DEFAULTS.trackers],
      mirrors: opts.mirror ?? [],
      minSizeBytes: opts.minSize,
      pieceLength: opts.pieceLength,
      expiresInDays: opts.expiresInDays,
      killSwitch: opts.killSwitch,
      json: opts.json,
      swConfig: opts.swConfig,
      iceServers: iceServersFromFlags(opts.iceServer),
    })
    process.stdout.write(opts.json ? JSON.stringify(buildResultJson(result)) + '\n' : buildSummary(result) + '\n')
  })

program
  .command('verify')
  .description('Check the manifest signature, its sequence and expiry, and every asset\'s bytes against its piece hashes.')
  .argument('<site-dir>', 'folder holding the built site')
  .requiredOption('--pub <key-or-file>', 'public key (base64, as printed by keygen) or a file holding it or a PEM')
  .action(async (siteDir: string, opts: { pub: string }) => {
    const { manifest, verifiedBytes } = await verifySite(siteDir, loadPublicKey(opts.pub))
    process.stdout.write(`ok: signature valid, sequence ${manifest.sequence}, expires ${manifest.expiresAt}, ${manifest.assets.length} assets (${formatBytes(verifiedBytes)}) match their pieces\n`)
  })

const log = (line: string) => process.stderr.write(line + '\n')
const iceServerOption = () => new Option('--ice-server <url>', 'STUN/TURN server for WebRTC, repeatable, as for build, or none (default: the manifest\'s)').argParser(collect(parseIceServer))
const uploadOption = () => new Option('--max-upload-bytes-per-sec <bytes>', 'upload cap (default: none)').argParser(parseByteSize)

const trackerCli = program
  .command('tracker')
  .description('Run a WebSocket BitTorrent tracker. With manifests, admit only their infohashes. Stats as JSON at /stats.')
  .option('--port <n>', 'port', parsePort, 8000)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--manifest <file>', 'admit only the infohashes of this manifest, repeatable', collect((text: string) => text))
for (const option of trackerLimitOptions()) trackerCli.addOption(option)
trackerCli.action(async (opts: { port: number; host: string; manifest?: string[] } & Record<string, unknown>) => {
  await trackerCommand({ port: opts.port, host: opts.host, manifests: opts.manifest ?? [], limits: trackerLimitsFrom(opts), log })
})

program
  .command('seed')
  .description('Check the site\'s files against its manifest, then seed every asset to browsers over WebRTC.')
  .argument('<site-dir>', 'folder holding the built site')
  .option('--tracker <url>', 'tracker to announce to, repeatable (default: the manifest\'s, paths resolved against --base-url)', collect(parseTrackerUrl))
  .option('--base-url <url>', 'where the site is served, for same-origin tracker paths', parseBaseUrl, 'http://localhost:8080/')
  .option('--pub <key-or-file>', 'public key to check the manifest signature (default: the one in swarmcdn-sw.js)')
  .addOption(iceServerOption())
  .addOption(uploadOption())
  .action(async (siteDir: string, opts: { tracker?: string[]; baseUrl: string; pub?: string; iceServer?: Array<ManifestIceServer | null>; maxUploadBytesPerSec?: number }) => {
    const trackers = opts.tracker?.map((t) => absoluteTrackerUrl(t, opts.baseUrl))
    await seedCommand({ siteDir, trackers, baseUrl: opts.baseUrl, pub: opts.pub, iceServers: iceServersFromFlags(opts.iceServer), maxUploadBytesPerSec: opts.maxUploadBytesPerSec ?? -1, log })
  })

const serveCli = program
  .command('serve')
  .description('Serve the site (Range, ETag, SW headers, byte counts) with a tracker and a seeder on the same port.')
  .argument('<site-dir>', 'folder holding the built site')
  .option('--port <n>', 'port', parsePort, 8080)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--no-tracker', 'do not host the tracker at /__swarmcdn/tracker')
  .option('--no-seed', 'do not seed from this process')
  .option('--pub <key-or-file>', 'public key to check the manifest signature (default: the one in swarmcdn-sw.js)')
  .addOption(iceServerOption())
  .addOption(uploadOption())
for (const option of trackerLimitOptions()) serveCli.addOption(option)
serveCli.action(async (siteDir: string, opts: { port: number; host: string; tracker: boolean; seed: boolean; pub?: string; iceServer?: Array<ManifestIceServer | null>; maxUploadBytesPerSec?: number } & Record<string, unknown>) => {
  await serveCommand({ siteDir, port: opts.port, host: opts.host, tracker: opts.tracker, seed: opts.seed, pub: opts.pub, iceServers: iceServersFromFlags(opts.iceServer), maxUploadBytesPerSec: opts.maxUploadBytesPerSec ?? -1, trackerLimits: trackerLimitsFrom(opts), log })
})

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has printed its message (or the help / version, which exit 0).
    process.exitCode = error.exitCode === 0 ? 0 : 2
  } else if (error instanceof CliError) {
    process.stderr.write(`swarmcdn: ${error.message}\n`)
    process.exitCode = error.exitCode
  } else {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`swarmcdn: unexpected error: ${message}${process.env.SWARMCDN_DEBUG ? `\n${(error as Error)?.stack}` : ' (set SWARMCDN_DEBUG=1 for details)'}\n`)
    process.exitCode = 1
  }
}
