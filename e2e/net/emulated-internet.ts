// The emulated internet, put together from the parts in this folder:
//
//   wan namespace: a bridge, the internet (203.0.113.0/24); the STUN server (coturn) at STUN_IP; TRACKER_IP
//     for a tracker run apart from the origin
//     ├─ origin namespace: ORIGIN_IP; its link to the internet is capped (shared by every visitor)
//     └─ per visitor: router namespace (NAT, delay line, shaped down/up links) ─ visitor namespace (198.51.100.x)
//
// Round-trip times: each router delays what it forwards from its LAN to the internet (delayer.ts,
// nat-router.ts): by the visitor's whole RTT to the origin for the origin/STUN, and by half a pair's
// RTT for another visitor (the other visitor's router adds the other half on the way back).
// Rates: tbf (shaping.ts).
//
// Teardown: close() stops every process and deletes every namespace; if the process exits or gets
// SIGINT/SIGTERM first, a synchronous handler does the same. Leftovers of a crashed run are removed
// before a new one starts (namespaces.ts).

import { mkdtemp, rm } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { ORIGIN_IP, STUN_IP, STUN_PORT, TRACKER_IP, WAN_IP, INTERNET_PREFIX_LEN, MAX_VISITORS, visitorAddresses, type VisitorAddresses } from './address-plan.ts'
import { addAddress, attachToBridge, createBridge, createNamespace, createVethPair, deleteNamespaceSync, nsName, ownNamespaces, removeLeftoverNamespaces, setDefaultRoute, NS_PREFIX } from './namespaces.ts'
import { shapeEgress } from './shaping.ts'
import { inNs, run } from './host-command.ts'
import { configureNatRouter } from './nat-router.ts'
import { compileDelayer, delayerArgs, DELAYER_READY } from './delayer.ts'
import { startStunServer } from './stun-server.ts'
import { startInNamespace, type NetnsProcess, type StartOptions } from './netns-process.ts'
import { launchChromiumInNamespace } from './chromium-in-netns.ts'
import { emulationUnavailable } from './emulation-support.ts'

export interface VisitorLink {
  downMbit: number
  upMbit: number
  /** Round trip to the origin (and to the STUN server), ms. */
  originRttMs: number
}

export interface InternetOptions {
  visitors: VisitorLink[]
  /** Round trip between visitors i and j (0-based), ms; must be symmetric. */
  peerRttMs: (i: number, j: number) => number
  /** Cap on the origin's link, Mbit/s, shared by all visitors. */
  originMbit: number
  /** Buffer of every shaped link, in ms at its rate (tbf latency). */
  queueMs: number
  /** NAT routers map each destination to its own port (symmetric NAT). Default false. */
  symmetricNat?: boolean
  /**
   * TCP congestion control of the origin's sender (net.ipv4.tcp_congestion_control in its namespace),
   * e.g. 'cubic' or 'bbr'. Default: what a new namespace gets from this machine.
   */
  originCongestionControl?: string
  /** Start the STUN server. Default true. */
  stun?: boolean
  log?: (line: string) => void
}

export interface Visitor extends VisitorAddresses {
  index: number
  /** The visitor's namespace (its browser runs here). */
  ns: string
  /** Its NAT router's namespace. */
  routerNs: string
  link: VisitorLink
}

export interface EmulatedInternet {
  wanNs: string
  originNs: string
  originIp: string
  /** stun:203.0.113.3:3478, or null without STUN. */
  stunUrl: string | null
  visitors: Visitor[]
  /** A scratch folder removed on close. */
  workDir: string
  /** Starts a process inside one of this internet's namespaces; it is stopped on close. */
  start(ns: string, name: string, command: string, args: string[], options?: StartOptions): Promise<NetnsProcess>
  /** Headless Chromium in a visitor's namespace; closed on close(). */
  launchBrowser(visitor: Visitor, options?: { secureOrigins?: string[]; args?: string[] }): Promise<Browser>
  /** A Unix socket in workDir that reaches host:port inside `ns` (unix-socket-relay.ts). */
  relay(ns: string, host: string, port: number): Promise<string>
  setOriginMbit(mbit: number): Promise<void>
  close(): Promise<void>
}

const BRIDGE = 'inet'
const RELAY_SCRIPT = fileURLToPath(new URL('./unix-socket-relay.ts', import.meta.url))
const DELAY_QUEUE = 0
const live = new Set<() => void>()
let handlersInstalled = false

function installExitHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('exit', () => {
    for (const teardown of [...live]) teardown()
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const teardown of [...live]) teardown()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    })
  }
}

/**
 * Sets a namespace's TCP congestion control. A namespace may only choose from the machine's allowed
 * list (often just reno and the machine's default): an available one not on it is allowed first.
 */
async function setCongestionControl(ns: string, name: string): Promise<void> {
  const allowed = (await run('sysctl', ['-n', 'net.ipv4.tcp_allowed_congestion_control'])).trim().split(/\s+/)
  if (!allowed.includes(name)) {
    const available = (await run('sysctl', ['-n', 'net.ipv4.tcp_available_congestion_control'])).trim().split(/\s+/)
    if (!available.includes(name)) throw new Error(`TCP congestion control ${name} is not available here (${available.join(', ')})`)
    await run('sysctl', ['-qw', `net.ipv4.tcp_allowed_congestion_control=${[...allowed, name].join(' ')}`])
  }
  await inNs(ns, 'sysctl', ['-qw', `net.ipv4.tcp_congestion_control=${name}`])
}

export async function createEmulatedInternet(options: InternetOptions): Promise<EmulatedInternet> {
  const unavailable = emulationUnavailable()
  if (unavailable) throw new Error(`emulated network unavailable: ${unavailable}`)
  if (options.visitors.length > MAX_VISITORS) throw new RangeError(`at most ${MAX_VISITORS} visitors`)
  const log = options.log ?? (() => {})
  removeLeftoverNamespaces(log)
  const delayerBinary = await compileDelayer()

  const workDir = await mkdtemp(join(tmpdir(), `${NS_PREFIX}${process.pid}-`))
  const processes: NetnsProcess[] = []
  const browsers: Browser[] = []
  let closed = false
  const teardownSync = () => {
    if (closed) return
    closed = true
    live.delete(teardownSync)
    for (const ns of ownNamespaces()) deleteNamespaceSync(ns)
    rmSync(workDir, { recursive: true, force: true })
  }
  live.add(teardownSync)
  installExitHandlers()

  const start = async (ns: string, name: string, command: string, args: string[], startOptions?: StartOptions) => {
    const proc = await startInNamespace(ns, name, command, args, startOptions)
    processes.push(proc)
    return proc
  }

  const wanNs = nsName('wan')
  const originNs = nsName('origin')
  const visitors: Visitor[] = []
  try {
    await createNamespace(wanNs)
    await createBridge(wanNs, BRIDGE)
    await addAddress(wanNs, BRIDGE, `${WAN_IP}/${INTERNET_PREFIX_LEN}`)
    await addAddress(wanNs, BRIDGE, `${STUN_IP}/${INTERNET_PREFIX_LEN}`)
    await addAddress(wanNs, BRIDGE, `${TRACKER_IP}/${INTERNET_PREFIX_LEN}`)

    await createNamespace(originNs)
    await createVethPair(originNs, 'eth0', wanNs, 'origin')
    await attachToBridge(wanNs, BRIDGE, 'origin')
    await addAddress(originNs, 'eth0', `${ORIGIN_IP}/${INTERNET_PREFIX_LEN}`)
    await shapeEgress(originNs, 'eth0', { rateMbit: options.originMbit, queueMs: options.queueMs })
    if (options.originCongestionControl) await setCongestionControl(originNs, options.originCongestionControl)

    for (const [index, link] of options.visitors.entries()) {
      const addresses = visitorAddresses(index)
      const visitor: Visitor = { ...addresses, index, ns: nsName(`v${index}`), routerNs: nsName(`r${index}`), link }
      await createNamespace(visitor.routerNs)
      await createNamespace(visitor.ns)
      await createVethPair(visitor.routerNs, 'wan0', wanNs, `r${index}`)
      await attachToBridge(wanNs, BRIDGE, `r${index}`)
      await addAddress(visitor.routerNs, 'wan0', `${addresses.publicIp}/${INTERNET_PREFIX_LEN}`)
      await createVethPair(visitor.ns, 'eth0', visitor.routerNs, 'lan0')
      await addAddress(visitor.routerNs, 'lan0', `${addresses.gatewayIp}/${addresses.lanPrefixLen}`)
      await addAddress(visitor.ns, 'eth0', `${addresses.lanIp}/${addresses.lanPrefixLen}`)
      await setDefaultRoute(visitor.ns, addresses.gatewayIp)
      await configureNatRouter(visitor.routerNs, { lanDev: 'lan0', wanDev: 'wan0', symmetric: options.symmetricNat ?? false, delayQueue: DELAY_QUEUE })
      await shapeEgress(visitor.routerNs, 'lan0', { rateMbit: link.downMbit, queueMs: options.queueMs })
      await shapeEgress(visitor.routerNs, 'wan0', { rateMbit: link.upMbit, queueMs: options.queueMs })
      visitors.push(visitor)
    }
    for (const visitor of visitors) {
      const peers: Record<string, number> = {}
      for (const other of visitors) if (other !== visitor) peers[other.publicIp] = options.peerRttMs(visitor.index, other.index) / 2
      await start(visitor.routerNs, `delayer ${visitor.index}`, delayerBinary, delayerArgs({ queue: DELAY_QUEUE, lanCidr: visitor.lanCidr, defaultDelayMs: visitor.link.originRttMs, peers }), { ready: DELAYER_READY, timeoutMs: 5000 })
    }
    const stun = options.stun ?? true
    if (stun) processes.push(await startStunServer(wanNs, STUN_IP, STUN_PORT, workDir))
    log(`emulated internet up: origin ${ORIGIN_IP} at ${options.originMbit} Mbit/s, ${visitors.length} visitors behind ${options.symmetricNat ? 'symmetric' : 'endpoint-independent'} NATs${stun ? `, STUN ${STUN_IP}:${STUN_PORT}` : ''}`)

    return {
      wanNs,
      originNs,
      originIp: ORIGIN_IP,
      stunUrl: stun ? `stun:${STUN_IP}:${STUN_PORT}` : null,
      visitors,
      workDir,
      start,
      async launchBrowser(visitor, browserOptions = {}) {
        const browser = await launchChromiumInNamespace(visitor.ns, { workDir, secureOrigins: browserOptions.secureOrigins ?? [`http://${ORIGIN_IP}`], args: browserOptions.args })
        browsers.push(browser)
        return browser
      },
      async relay(ns, host, port) {
        const socketPath = join(workDir, `relay-${ns}-${host}-${port}.sock`)
        await start(ns, `relay to ${host}:${port}`, process.execPath, ['--import', import.meta.resolve('tsx'), RELAY_SCRIPT, socketPath, host, String(port)], { ready: /ready/, timeoutMs: 15_000 })
        return socketPath
      },
      setOriginMbit: (mbit) => shapeEgress(originNs, 'eth0', { rateMbit: mbit, queueMs: options.queueMs }),
      async close() {
        if (closed) return
        await Promise.all(browsers.map((browser) => browser.close().catch(() => undefined)))
        await Promise.all(processes.map((proc) => proc.stop().catch(() => undefined)))
        teardownSync()
        await rm(workDir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    await Promise.all(processes.map((proc) => proc.stop(500).catch(() => undefined)))
    teardownSync()
    throw error
  }
}

/** Pair RTTs spread evenly over [minMs, maxMs], assigned to pairs in a fixed shuffled order (deterministic). */
export function spreadPeerRtts(count: number, minMs: number, maxMs: number): (i: number, j: number) => number {
  const pairs: Array<[number, number]> = []
  for (let i = 0; i < count; i++) for (let j = i + 1; j < count; j++) pairs.push([i, j])
  const table = new Map<string, number>()
  let x = 0x2545f491
  const order = pairs.map((pair) => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return { pair, key: x >>> 0 }
  }).sort((a, b) => a.key - b.key)
  order.forEach(({ pair: [i, j] }, rank) => {
    const ms = order.length === 1 ? (minMs + maxMs) / 2 : minMs + ((maxMs - minMs) * rank) / (order.length - 1)
    table.set(`${i},${j}`, Math.round(ms))
  })
  return (i, j) => table.get(i < j ? `${i},${j}` : `${j},${i}`) ?? Math.round((minMs + maxMs) / 2)
}
