// Network namespaces, veth pairs and addresses. Every name starts with NS_PREFIX and the owning
// process id, so leftovers of a crashed run (its process gone) can be found and removed, and two runs
// never collide. Veth ends are created directly inside their namespaces: the host's own namespace
// never sees an interface, an address or a rule of ours.

import { run, runSync } from './host-command.ts'

export const NS_PREFIX = 'swcdnnet-'

/** A namespace name owned by this process: swcdnnet-<pid>-<role>. */
export function nsName(role: string, pid = process.pid): string {
  return `${NS_PREFIX}${pid}-${role}`
}

export async function createNamespace(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name])
  // IPv4 only, before any interface exists: an IPv6 link-local address finishes its duplicate check
  // about a second after its link comes up, and Chromium, seeing the address change, failed a page
  // load under way with ERR_NETWORK_CHANGED (a browser launched and navigating within that second).
  for (const key of ['net.ipv6.conf.all.disable_ipv6', 'net.ipv6.conf.default.disable_ipv6']) await setSysctl(name, key, '1')
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
}

/** A veth pair with one end in each namespace, both up. */
export async function createVethPair(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
  await run('ip', ['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB])
  await run('ip', ['-n', nsA, 'link', 'set', ifA, 'up'])
  await run('ip', ['-n', nsB, 'link', 'set', ifB, 'up'])
}

export async function addAddress(ns: string, dev: string, cidr: string): Promise<void> {
  await run('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', dev])
}

export async function setDefaultRoute(ns: string, via: string): Promise<void> {
  await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', via])
}

/** A bridge inside `ns`; `ports` are interfaces already in `ns`. */
export async function createBridge(ns: string, bridge: string, ports: string[] = []): Promise<void> {
  await run('ip', ['-n', ns, 'link', 'add', bridge, 'type', 'bridge'])
  await run('ip', ['-n', ns, 'link', 'set', bridge, 'up'])
  for (const port of ports) await attachToBridge(ns, bridge, port)
}

export async function attachToBridge(ns: string, bridge: string, port: string): Promise<void> {
  await run('ip', ['-n', ns, 'link', 'set', port, 'master', bridge])
}

export async function setSysctl(ns: string, key: string, value: string): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`])
}

function listNamespaces(): string[] {
  return runSync('ip', ['netns', 'list']).stdout.split('\n').map((line) => line.split(' ')[0]).filter(Boolean)
}

/**
 * Kills every process still inside the namespace (all started by us: servers, delayers, Chromium),
 * then deletes it. Synchronous so that it also works from an 'exit' handler. Missing is fine.
 */
export function deleteNamespaceSync(name: string): void {
  if (!name.startsWith(NS_PREFIX)) throw new Error(`refusing to delete namespace ${name}: not ours`)
  for (const pid of runSync('ip', ['netns', 'pids', name]).stdout.split('\n').map(Number).filter((n) => n > 0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  runSync('ip', ['netns', 'del', name])
}

/** This process's namespaces. */
export function ownNamespaces(pid = process.pid): string[] {
  return listNamespaces().filter((name) => name.startsWith(`${NS_PREFIX}${pid}-`))
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes namespaces left by runs whose process is gone (a crash, a SIGKILL). Idempotent. */
export function removeLeftoverNamespaces(log: (line: string) => void = () => {}): string[] {
  const removed: string[] = []
  for (const name of listNamespaces()) {
    if (!name.startsWith(NS_PREFIX)) continue
    const owner = Number(name.slice(NS_PREFIX.length).split('-')[0])
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) continue
    deleteNamespaceSync(name)
    removed.push(name)
  }
  if (removed.length > 0) log(`removed ${removed.length} namespaces left by an earlier run: ${removed.join(' ')}`)
  return removed
}
