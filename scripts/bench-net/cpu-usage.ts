// Where the machine's CPU went during a page load: every process's CPU time (/proc), grouped by the
// network namespace it runs in (each visitor's browser has its own) and by what it is (Chromium's
// browser, renderer, GPU and utility processes; other commands by name). On this 2-core machine a
// load is often CPU-bound rather than link-bound, plain HTTP included, so what a variant costs in CPU
// shows up in its load time.

import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs'

export interface CpuSample {
  /** All CPUs, clock ticks: busy and total. */
  busy: number
  total: number
  /** Per process: CPU ticks (user + system) and where it runs. */
  processes: Map<number, { ticks: number; place: string }>
}

export interface CpuUsage {
  /** CPU seconds used by the whole machine. */
  busySec: number
  /** Share of all CPUs busy. */
  busyShare: number
  /** CPU seconds by `namespace process-kind`, largest first, those over 0.1 s. */
  byPlace: Record<string, number>
}

/** Clock ticks per second (USER_HZ): 100 on Linux. */
const TICKS_PER_SEC = 100

export function sampleCpu(): CpuSample {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = fields.reduce((sum, value) => sum + value, 0)
  const idle = fields[3]! + fields[4]!
  const namespaces = namespaceNames()
  const processes = new Map<number, { ticks: number; place: string }>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ticks = Number(rest[11]) + Number(rest[12])
      if (ticks === 0) continue
      const namespace = namespaces.get(readlinkSync(`/proc/${entry}/ns/net`)) ?? 'host'
      processes.set(Number(entry), { ticks, place: `${namespace} ${processKind(entry, stat)}` })
    } catch {
      // Gone meanwhile.
    }
  }
  return { busy: total - idle, total, processes }
}

export function cpuBetween(before: CpuSample, after: CpuSample): CpuUsage {
  const byPlace = new Map<string, number>()
  for (const [pid, now] of after.processes) {
    const used = now.ticks - (before.processes.get(pid)?.ticks ?? 0)
    if (used > 0) byPlace.set(now.place, (byPlace.get(now.place) ?? 0) + used / TICKS_PER_SEC)
  }
  return {
    busySec: (after.busy - before.busy) / TICKS_PER_SEC,
    busyShare: (after.busy - before.busy) / Math.max(1, after.total - before.total),
    byPlace: Object.fromEntries([...byPlace].filter(([, sec]) => sec >= 0.1).sort((a, b) => b[1] - a[1]).map(([place, sec]) => [place, Math.round(sec * 100) / 100])),
  }
}

/** `net:[inode]` → the name `ip netns` gave it. */
function namespaceNames(): Map<string, string> {
  const names = new Map<string, string>()
  try {
    for (const name of readdirSync('/run/netns')) names.set(`net:[${statSync(`/run/netns/${name}`).ino}]`, name)
  } catch {
    // No named namespaces.
  }
  return names
}

function processKind(pid: string, stat: string): string {
  // Chromium rewrites its command line into one string (its process title).
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
  const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
  if (/--renderer-client-id|--type=renderer/.test(args)) return 'chromium-renderer'
  if (/--gpu-preferences|--type=gpu/.test(args)) return 'chromium-gpu'
  if (/--type=|--change-stack-guard-on-fork/.test(args) && !/--remote-debugging-pipe/.test(args)) return 'chromium-utility'
  if (/chrom/i.test(command) || /--remote-debugging-pipe/.test(args)) return 'chromium-browser'
  const script = args.split(' ').find((arg) => /\.(ts|js|mjs)$/.test(arg))
  return script ? `${command} ${script.split('/').pop()}` : command
}
