// The delay line: nfq-delay.c, compiled at run time with gcc (Debian: gcc, which brings libc6-dev
// and linux-libc-dev for the kernel headers; no libnetfilter-queue needed), run in a router namespace
// on the NFQUEUE that nat-router.ts sends packets leaving the LAN to. It holds each packet for the
// delay of its remote address, so a round trip through one router gains that delay.

import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from './host-command.ts'

const SOURCE = fileURLToPath(new URL('./nfq-delay.c', import.meta.url))

/** Compiles nfq-delay once per source version (cached in the temp dir); returns the binary's path. */
export async function compileDelayer(): Promise<string> {
  const source = await readFile(SOURCE)
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16)
  const dir = join(tmpdir(), 'swarmcdn-nfq-delay')
  const binary = join(dir, `nfq-delay-${hash}`)
  if (existsSync(binary)) return binary
  await mkdir(dir, { recursive: true })
  const partial = `${binary}.${process.pid}.tmp`
  await run('gcc', ['-O2', '-Wall', '-o', partial, SOURCE])
  await rename(partial, binary)
  return binary
}

export interface DelayerOptions {
  queue: number
  /** The router's LAN: the side whose addresses are never "remote". */
  lanCidr: string
  /** One-way delay for remotes not listed in `peers` (the origin, STUN, anything else), ms. */
  defaultDelayMs: number
  /** Remote address → one-way delay at this router, ms. */
  peers: Record<string, number>
}

/** Command-line arguments of nfq-delay for one router. */
export function delayerArgs(options: DelayerOptions): string[] {
  const args = ['--queue', String(options.queue), '--lan', options.lanCidr, '--default-ms', String(options.defaultDelayMs)]
  for (const [ip, ms] of Object.entries(options.peers)) args.push('--peer', `${ip}=${ms}`)
  return args
}

/** nfq-delay prints this once its queue is bound. */
export const DELAYER_READY = /queue \d+ ready/
