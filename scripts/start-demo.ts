// Second half of `npm start` (after packages exist): bundles, demo site, `swarmcdn serve`.

import { Command } from 'commander'
import { bundleClients } from '../origin-tools/src/client-bundles.ts'
import { prepareDemo } from '../demo/prepare-demo.ts'
import { serveCommand } from '../origin-tools/src/commands/serve.ts'
import { parsePort } from '../origin-tools/src/option-parsers.ts'
import { CliError } from '../origin-tools/src/cli-error.ts'

const opts = new Command()
  .option('--port <n>', 'port', parsePort, 8080)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--no-seed', 'do not seed from the server')
  .option('--no-tracker', 'do not host the tracker')
  .parse(process.argv)
  .opts<{ port: number; host: string; seed: boolean; tracker: boolean }>()

const log = (line: string) => console.log(line)
try {
  for (const r of await bundleClients()) log(`bundled ${r.file} (${(r.bytes / 1024).toFixed(1)} KiB)`)
  const shownHost = opts.host === '127.0.0.1' || opts.host === '0.0.0.0' ? 'localhost' : opts.host
  await prepareDemo({ baseUrl: `http://${shownHost}:${opts.port}/`, log })
  await serveCommand({
    siteDir: new URL('../demo/site', import.meta.url).pathname,
    port: opts.port,
    host: opts.host,
    tracker: opts.tracker,
    seed: opts.seed,
    iceServers: [],
    maxUploadBytesPerSec: -1,
    log,
  })
  log('\nSee P2P at work: open the URL above in two windows (or two browsers), go to the Gallery or the Film in both,')
  log('and watch "from peers" grow in the panel at the bottom right. The Owner dashboard shows the offload ratio.')
  log('Stop with Ctrl-C.')
} catch (error) {
  console.error(`npm start: ${error instanceof CliError ? error.message : (error as Error).message}`)
  process.exit(1)
}
