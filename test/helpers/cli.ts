// Runs the real `swarmcdn` CLI as a child process.

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CLI = join(REPO_ROOT, 'origin-tools/bin/swarmcdn.js')

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

export { tempDir } from './temp-dir.ts'

/** A small site: one page, two large assets (random bytes, deterministic per seed length), one small file. */
export async function makeFixtureSite(dir: string, sizes = { big: 1_500_000, medium: 300_000 }): Promise<{ big: Buffer; medium: Buffer }> {
  await mkdir(join(dir, 'media'), { recursive: true })
  const big = randomBytes(sizes.big)
  const medium = randomBytes(sizes.medium)
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>fixture</title><h1>fixture</h1>')
  await writeFile(join(dir, 'media', 'big.bin'), big)
  await writeFile(join(dir, 'media', 'photo one.jpg'), medium)
  await writeFile(join(dir, 'small.css'), 'body { color: black }')
  return { big, medium }
}
