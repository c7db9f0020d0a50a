// Runs system tools (ip, tc, iptables-legacy, sysctl) with arguments, never through a shell.

import { execFile, execFileSync } from 'node:child_process'

export class HostCommandError extends Error {
  readonly code = 'host-command-failed'
}

/** Runs a command; rejects with its stderr when it exits non-zero. */
export function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new HostCommandError(`${command} ${args.join(' ')}: ${String(stderr).trim() || error.message}`))
      else resolve(String(stdout))
    })
  })
}

/** The same, synchronously (for teardown in an 'exit' handler); failures are returned, not thrown. */
export function runSync(command: string, args: string[]): { ok: boolean; stdout: string } {
  try {
    return { ok: true, stdout: execFileSync(command, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString() }
  } catch {
    return { ok: false, stdout: '' }
  }
}

/** Runs a command inside a network namespace. */
export function inNs(ns: string, command: string, args: string[]): Promise<string> {
  return run('ip', ['netns', 'exec', ns, command, ...args])
}
