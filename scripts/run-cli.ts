// Runs a swarmcdn CLI (a checkout's origin-tools/bin/swarmcdn.js) in a child Node process, for the
// benchmarks: resolves with its stdout, rejects with its stderr when it exits non-zero.

import { spawn } from 'node:child_process'

export function runSwarmcdnCli(cli: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (err += chunk))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`swarmcdn ${args[0]} exited ${code}: ${err.trim()}`))))
  })
}
