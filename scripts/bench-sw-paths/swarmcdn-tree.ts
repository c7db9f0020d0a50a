// The swarmcdn working tree under test: its CLI builds and serves the benchmark's sites, its `npm run
// build` makes the service worker bundle first, so what is measured is that tree's current code
// (this repository by default; --swarmcdn-dir points at another checkout, e.g. /work/main).

import { spawn, spawnSync } from 'node:child_process'
import { runSwarmcdnCli } from '../run-cli.ts'
import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface SwarmcdnTree {
  dir: string
  cli: string
  /** git HEAD and whether the tree has uncommitted changes (null outside git). */
  git: { head: string; dirty: boolean } | null
}

export function openTree(dir: string): SwarmcdnTree {
  const cli = join(dir, 'origin-tools/bin/swarmcdn.js')
  if (!existsSync(cli)) throw new Error(`${dir} is not a swarmcdn checkout (no origin-tools/bin/swarmcdn.js)`)
  if (!existsSync(join(dir, 'node_modules'))) throw new Error(`${dir} has no node_modules: run npm ci there first`)
  const git = (args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8' })
  const head = git(['rev-parse', 'HEAD'])
  const status = git(['status', '--porcelain', '--untracked-files=no'])
  return { dir, cli, git: head.status === 0 ? { head: head.stdout.trim(), dirty: status.stdout.trim() !== '' } : null }
}

/** `npm run build` in the tree: the bundles in its dist/ are made from its sources now. */
export function buildBundles(tree: SwarmcdnTree): void {
  const result = spawnSync('npm', ['run', '--silent', 'build', '--', '--quiet'], { cwd: tree.dir, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`npm run build in ${tree.dir} failed: ${(result.stderr || result.stdout).trim()}`)
}

/** Size and SHA-256 of a file (the service worker a site was built with, for the results). */
export async function fileFingerprint(path: string): Promise<{ bytes: number; sha256: string }> {
  const bytes = await readFile(path)
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }
}

export function runCli(tree: SwarmcdnTree, args: string[]): Promise<string> {
  return runSwarmcdnCli(tree.cli, args, tree.dir)
}

/** A port free right now on 127.0.0.1 (the site is built for its URL before it is served). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface ServeProcess {
  origin: string
  close(): Promise<void>
}

/** `swarmcdn serve` as a child process of the tree; resolves once it listens. */
export function startServe(tree: SwarmcdnTree, siteDir: string, port: number, flags: string[], timeoutMs = 30_000): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tree.cli, 'serve', siteDir, '--host', '127.0.0.1', '--port', String(port), ...flags], {
      cwd: tree.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    const exited = new Promise<void>((done) => child.once('exit', () => done()))
    const close = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(killer)
    }
    const timer = setTimeout(() => {
      void close()
      reject(new Error(`swarmcdn serve did not start within ${timeoutMs} ms: ${output.trim()}`))
    }, timeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk
      if (/swarmcdn serve: open/.test(output)) {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        child.stderr.off('data', onData)
        // Keep draining, or a full pipe would stall the server.
        child.stdout.resume()
        child.stderr.resume()
        resolve({ origin: `http://127.0.0.1:${port}`, close })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`swarmcdn serve exited ${code}: ${output.trim()}`))
    })
  })
}
