// Bundles the browser side with esbuild and emits it into a built site.
// swarmcdn-sw.js gets the site's public key baked in as its first line.

import type { BuildOptions } from 'esbuild'
import { existsSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from './atomic-write.ts'
import { AGENT_FILE, LOADER_FILE, SERVICE_WORKER_FILE } from '../../core/manifest-format.ts'
import { CLIENT_DIST_DIR, PACKAGED, REPO_ROOT } from './package-layout.ts'

export { REPO_ROOT }
export const DIST_DIR = CLIENT_DIST_DIR
export { AGENT_FILE }

export interface ClientBundle {
  /** File name in dist/ and in the site. */
  file: string
  entry: string
  format: 'iife' | 'esm'
  /** Minified size budget in bytes: the build fails above it. */
  budgetBytes: number
  /** Why the budget is what it is. */
  budgetReason: string
}

export const CLIENT_BUNDLES: ClientBundle[] = [
  { file: SERVICE_WORKER_FILE, entry: 'sw/sw-entry.ts', format: 'iife', budgetBytes: 72 * 1024, budgetReason: 'parsed on every SW start' },
  { file: LOADER_FILE, entry: 'loader/swarmcdn.ts', format: 'iife', budgetBytes: 8 * 1024, budgetReason: 'on every page of the site' },
  { file: AGENT_FILE, entry: 'loader/agent/agent-entry.ts', format: 'esm', budgetBytes: 64 * 1024, budgetReason: 'lazy chunk, loaded after the page' },
]

export interface BundleReport {
  file: string
  bytes: number
  budgetBytes: number
}

/** Builds every bundle whose entry exists into dist/; throws when one is over its budget. */
export async function bundleClients(options: { minify?: boolean; bundles?: ClientBundle[]; outDir?: string } = {}): Promise<BundleReport[]> {
  // Loaded here, not at the top: the published package has the bundles prebuilt and no esbuild.
  const { build } = await import('esbuild')
  const reports: BundleReport[] = []
  for (const bundle of options.bundles ?? CLIENT_BUNDLES) {
    const entry = join(REPO_ROOT, bundle.entry)
    if (!existsSync(entry)) continue
    const outfile = join(options.outDir ?? DIST_DIR, bundle.file)
    const esbuildOptions: BuildOptions = {
      entryPoints: [entry],
      outfile,
      bundle: true,
      format: bundle.format,
      platform: 'browser',
      target: ['chrome110', 'firefox115', 'safari16'],
      minify: options.minify ?? true,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    }
    await build(esbuildOptions)
    const bytes = (await stat(outfile)).size
    if (bytes > bundle.budgetBytes) {
      throw new Error(`${bundle.file} is ${bytes} bytes, over its budget of ${bundle.budgetBytes} (${bundle.budgetReason})`)
    }
    reports.push({ file: bundle.file, bytes, budgetBytes: bundle.budgetBytes })
  }
  return reports
}

/** Newest modification time of the browser-side sources (sw/, loader/, core/, peer/), ms. */
async function newestSourceMs(): Promise<number> {
  let newest = 0
  for (const folder of ['sw', 'loader', 'core', 'peer']) {
    for (const name of await readdir(join(REPO_ROOT, folder), { recursive: true }).catch(() => [] as string[])) {
      if (name.endsWith('.ts')) newest = Math.max(newest, (await stat(join(REPO_ROOT, folder, name))).mtimeMs)
    }
  }
  return newest
}

/** True when dist/ lacks a bundle or one is older than its sources (a pull or an edit since the last build). */
async function bundlesStale(bundles: ClientBundle[]): Promise<boolean> {
  const built = await Promise.all(bundles.map((bundle) => stat(join(DIST_DIR, bundle.file)).then((s) => s.mtimeMs, () => 0)))
  return Math.min(...built) < (await newestSourceMs())
}

/** Copies the bundles into the site; in the repository, rebuilds them first when dist/ is missing or stale. */
export async function emitClientFiles(siteDir: string, publicKeyBase64: string, swConfig: Record<string, number> = {}): Promise<string[]> {
  // The package ships them prebuilt (scripts/build-package.ts), with no sources to compare against.
  const present = CLIENT_BUNDLES.filter((bundle) => existsSync(PACKAGED ? join(DIST_DIR, bundle.file) : join(REPO_ROOT, bundle.entry)))
  if (!PACKAGED && (await bundlesStale(present))) await bundleClients()
  const written: string[] = []
  for (const bundle of present) {
    let code = await readFile(join(DIST_DIR, bundle.file), 'utf8')
    if (bundle.file === SERVICE_WORKER_FILE) code = `self.__SWARMCDN__=${JSON.stringify({ publicKey: publicKeyBase64, config: swConfig })};\n${code}`
    const target = join(siteDir, bundle.file)
    await writeFileAtomic(target, code)
    written.push(target)
  }
  return written
}
