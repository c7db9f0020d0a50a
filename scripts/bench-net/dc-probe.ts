// `npm run bench:dc`: what one WebRTC data channel between two NATed visitors of the emulated internet
// carries, raw (no swarmcdn code): visitor 1 sends N MB of fixed-size messages to visitor 2 with
// bufferedAmount backpressure, for each combination of message size and buffer high-water mark, and
// optionally paced (--pace-mbit) or bounded by a receiver-driven window (--window-kib 64,128).
// Both pages measure; the receiver's time from first to last byte is the channel's throughput.
// Compare with the sender's uplink (--up-mbit). Needs root; run under the heavy-work lock.

import { Command, Option } from 'commander'
import { createEmulatedInternet } from '../../e2e/net/emulated-internet.ts'
import { emulationUnavailable } from '../../e2e/net/emulation-support.ts'
import { newShimmedContext } from '../../e2e/net/chromium-in-netns.ts'
import type { Page } from 'playwright-core'
import { runSync } from '../../e2e/net/host-command.ts'
import { list, positive } from './option-parsers.ts'

const positives = list(positive)

const program = new Command('bench:dc')
  .description('raw WebRTC data channel throughput between two NATed visitors of the emulated internet')
  .addOption(new Option('--mb <mb>', 'bytes to send per run, MB').argParser(positive).default(10))
  .addOption(new Option('--message-kib <list>', 'message sizes, KiB').argParser(positives).default([16, 64], '16,64'))
  .addOption(new Option('--high-water-kib <list>', 'pause sending above this many buffered bytes (resume below half)').argParser(positives).default([256, 1024, 4096], '256,1024,4096'))
  .addOption(new Option('--peer-rtt-ms <ms>', 'round trip between the two visitors').argParser(positive).default(40))
  .addOption(new Option('--up-mbit <mbit>', 'uplink of each visitor').argParser(positive).default(10))
  .addOption(new Option('--down-mbit <mbit>', 'downlink of each visitor').argParser(positive).default(40))
  .addOption(new Option('--queue-ms <ms>', 'buffer of every shaped link, ms at its rate').argParser(positive).default(50))
  .addOption(new Option('--window-kib <list>', 'also run with a receiver-driven window: at most this many bytes sent and not yet acknowledged by the receiving page').argParser(positives).default([]))
  .addOption(new Option('--pace-mbit <list>', 'also run with the sender pacing itself to these rates (token bucket, 16 KiB burst)').argParser(positives).default([]))

interface RunResult {
  receivedBytes: number
  firstByteMs: number
  lastByteMs: number
  /** Bytes received by 1, 2, 4, 8 s after the first byte. */
  marks: Record<string, number>
}

async function connect(a: Page, b: Page, stunUrl: string): Promise<void> {
  const setup = (page: Page, initiator: boolean) =>
    page.evaluate(({ stunUrl, initiator }) => {
      const w = window as any
      const pc = new RTCPeerConnection({ iceServers: [{ urls: stunUrl }] })
      w.pc = pc
      w.opened = new Promise<void>((resolve) => {
        const attach = (channel: RTCDataChannel) => {
          w.channel = channel
          channel.binaryType = 'arraybuffer'
          if (channel.readyState === 'open') resolve()
          else channel.onopen = () => resolve()
        }
        if (initiator) attach(pc.createDataChannel('probe', { ordered: true }))
        else pc.ondatachannel = (event) => attach(event.channel)
      })
      w.gathered = () =>
        new Promise<RTCSessionDescriptionInit>((resolve) => {
          const done = () => resolve({ type: pc.localDescription!.type, sdp: pc.localDescription!.sdp })
          if (pc.iceGatheringState === 'complete') return done()
          pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && done())
          setTimeout(done, 3000)
        })
    }, { stunUrl, initiator })
  await setup(a, true)
  await setup(b, false)
  const offer = await a.evaluate(async () => {
    const w = window as any
    await w.pc.setLocalDescription(await w.pc.createOffer())
    return w.gathered()
  })
  const answer = await b.evaluate(async (offer) => {
    const w = window as any
    await w.pc.setRemoteDescription(offer)
    await w.pc.setLocalDescription(await w.pc.createAnswer())
    return w.gathered()
  }, offer)
  await a.evaluate((answer) => (window as any).pc.setRemoteDescription(answer), answer)
  await Promise.all([a.evaluate(() => (window as any).opened), b.evaluate(() => (window as any).opened)])
}

async function runOnce(sender: Page, receiver: Page, totalBytes: number, messageBytes: number, highWaterBytes: number, paceBytesPerSec = 0, windowBytes = 0): Promise<RunResult> {
  const received = receiver.evaluate((totalBytes) => {
    const channel = (window as any).channel as RTCDataChannel
    return new Promise<RunResult>((resolve) => {
      let bytes = 0
      let first = 0
      const marks: Record<string, number> = {}
      const pending = [1, 2, 4, 8]
      channel.onmessage = (event) => {
        const t = performance.now()
        if (bytes === 0) first = t
        bytes += (event.data as ArrayBuffer).byteLength
        channel.send(String(bytes))
        while (pending.length > 0 && t - first >= pending[0] * 1000) marks[`${pending.shift()}s`] = bytes
        if (bytes >= totalBytes) {
          channel.onmessage = null
          resolve({ receivedBytes: bytes, firstByteMs: first, lastByteMs: t, marks })
        }
      }
    })
  }, totalBytes)
  received.catch(() => undefined)
  await sender.evaluate(async ({ totalBytes, messageBytes, highWaterBytes, paceBytesPerSec, windowBytes }) => {
    const channel = (window as any).channel as RTCDataChannel
    channel.bufferedAmountLowThreshold = highWaterBytes / 2
    const message = new Uint8Array(messageBytes)
    let sent = 0
    const start = performance.now()
    let acked = 0
    let wake: (() => void) | null = null
    channel.onmessage = (event) => {
      acked = Number(event.data)
      wake?.()
    }
    while (sent < totalBytes) {
      while (windowBytes > 0 && sent - acked >= windowBytes) await new Promise<void>((resolve) => (wake = resolve))
      if (paceBytesPerSec > 0) {
        const dueMs = start + (sent / paceBytesPerSec) * 1000
        const wait = dueMs - performance.now()
        if (wait > 4) await new Promise((resolve) => setTimeout(resolve, wait))
      }
      if (channel.bufferedAmount > highWaterBytes) {
        await new Promise<void>((resolve) => (channel.onbufferedamountlow = () => resolve()))
      }
      const size = Math.min(messageBytes, totalBytes - sent)
      channel.send(size === messageBytes ? message : message.subarray(0, size))
      sent += size
    }
  }, { totalBytes, messageBytes, highWaterBytes, paceBytesPerSec, windowBytes })
  return received
}

async function main(): Promise<void> {
  program.parse()
  const opts = program.opts()
  const unavailable = emulationUnavailable()
  if (unavailable) throw new Error(unavailable)
  const net = await createEmulatedInternet({
    visitors: [0, 1].map(() => ({ downMbit: opts.downMbit, upMbit: opts.upMbit, originRttMs: 40 })),
    peerRttMs: () => opts.peerRttMs,
    originMbit: 100,
    queueMs: opts.queueMs,
  })
  try {
    const pages: Page[] = []
    for (const visitor of net.visitors) {
      const browser = await net.launchBrowser(visitor)
      const page = await (await newShimmedContext(browser)).newPage()
      page.on('crash', () => console.log(`page of visitor ${visitor.index + 1} crashed`))
      page.on('console', (m) => console.log(`visitor ${visitor.index + 1}: ${m.text()}`))
      await page.goto('about:blank')
      pages.push(page)
    }
    console.log(`uplink ${opts.upMbit} Mbit/s = ${(opts.upMbit / 8).toFixed(2)} MB/s; peer RTT ${opts.peerRttMs} ms; queues ${opts.queueMs} ms; ${opts.mb} MB per run`)
    const totalBytes = Math.round(opts.mb * 1e6)
    const drops = () => runSync('ip', ['netns', 'exec', net.visitors[0].routerNs, 'tc', '-s', 'qdisc', 'show', 'dev', 'wan0']).stdout.match(/dropped (\d+)/)?.[1] ?? '?'
    const runs: Array<[number, number, number, number]> = []
    for (const messageKib of opts.messageKib as number[]) for (const highWaterKib of opts.highWaterKib as number[]) runs.push([messageKib, highWaterKib, 0, 0])
    for (const paceMbit of opts.paceMbit as number[]) runs.push([(opts.messageKib as number[])[0], 64, paceMbit, 0])
    for (const windowKib of opts.windowKib as number[]) runs.push([(opts.messageKib as number[])[0], 4096, 0, windowKib])
    for (const [messageKib, highWaterKib, paceMbit, windowKib] of runs) {
      // A fresh connection per run: the ramp from a new association is part of what is measured.
      await connect(pages[0], pages[1], net.stunUrl!)
      const dropsBefore = Number(drops())
      const r = await runOnce(pages[0], pages[1], totalBytes, messageKib * 1024, highWaterKib * 1024, (paceMbit * 1e6) / 8, windowKib * 1024)
      const sec = (r.lastByteMs - r.firstByteMs) / 1000
      const marks = Object.entries(r.marks).map(([k, v]) => `${k} ${(v / 1e6).toFixed(2)} MB`).join(', ')
      console.log(`message ${messageKib} KiB, high water ${highWaterKib} KiB${paceMbit ? `, paced ${paceMbit} Mbit/s` : ''}${windowKib ? `, window ${windowKib} KiB` : ''}: ${(r.receivedBytes / 1e6).toFixed(1)} MB in ${sec.toFixed(2)} s = ${((r.receivedBytes * 8) / sec / 1e6).toFixed(2)} Mbit/s (${marks}); uplink drops ${Number(drops()) - dropsBefore}`)
      for (const page of pages) await page.evaluate(() => (window as any).pc.close())
    }
  } catch (error) {
    console.error(error)
  } finally {
    await net.close()
  }
}

await main()
