// The benchmark's two sites, holding the same asset files at the same paths:
//   - swarmcdn: built and signed by the tree's own CLI (`keygen`, `build`), its pages load swarmcdn.js;
//   - plain: the same files as a static site with no swarmcdn in it; its origin serves the Workbox
//     CacheFirst service worker (bundled here with esbuild), registered only in the Workbox visits;
//     without it, it is the plain HTTP variant.
// Both pages are bare but for bench-driver.js (page-driver.ts), which reads the assets with fetch():
// nothing else loads them.

import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { BenchMedia } from '../bench-net/bench-media.ts'
import { runCli, type SwarmcdnTree } from './swarmcdn-tree.ts'

export const WORKBOX_SW_FILE = 'bench-workbox-sw.js'
export const WORKBOX_CACHE_NAME = 'bench-assets'
export const DRIVER_FILE = 'bench-driver.js'
export const HOME_PATH = '/'
export const PAGE_PATH = '/page.html'

export interface SiteAsset {
  path: string
  bytes: number
  sha256: string
}

export interface BenchSites {
  swarmcdnDir: string
  plainDir: string
  assets: SiteAsset[]
  totalBytes: number
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** Copies the media into both sites, writes their pages, builds the swarmcdn one for `swarmcdnBaseUrl`. */
export async function createSites(options: { workDir: string; media: BenchMedia; tree: SwarmcdnTree; swarmcdnBaseUrl: string }): Promise<BenchSites> {
  const { workDir, media, tree } = options
  const swarmcdnDir = join(workDir, 'swarmcdn-site')
  const plainDir = join(workDir, 'plain-site')
  const files = [
    ...media.images.map((image) => ({ from: image.name, path: `media/${image.name}` })),
    { from: media.video.name, path: `media/${media.video.name}` },
    { from: media.download.name, path: `downloads/${media.download.name}` },
  ]
  const assets: SiteAsset[] = []
  for (const dir of [swarmcdnDir, plainDir]) {
    await mkdir(join(dir, 'media'), { recursive: true })
    await mkdir(join(dir, 'downloads'), { recursive: true })
    for (const file of files) await copyFile(join(media.dir, file.from), join(dir, file.path))
  }
  for (const file of files) {
    const bytes = await readFile(join(plainDir, file.path))
    assets.push({ path: `/${file.path}`, bytes: bytes.length, sha256: sha256(bytes) })
  }

  const driver = `<script src="/${DRIVER_FILE}"></script>`
  const loader = `<script src="/swarmcdn.js" async></script>\n${driver}`
  await writeFile(join(swarmcdnDir, 'index.html'), page('Bench home', loader))
  await writeFile(join(swarmcdnDir, 'page.html'), page('Bench page', loader))
  await writeFile(join(plainDir, 'index.html'), page('Bench home', driver))
  await writeFile(join(plainDir, 'page.html'), page('Bench page', driver))
  await bundle('./workbox-sw.ts', join(plainDir, WORKBOX_SW_FILE))
  for (const dir of [swarmcdnDir, plainDir]) await bundle('./page-driver.ts', join(dir, DRIVER_FILE))

  const keyFile = join(workDir, 'bench-key.pem')
  await runCli(tree, ['keygen', '--out', keyFile])
  await runCli(tree, ['build', swarmcdnDir, '--key', keyFile, '--base-url', options.swarmcdnBaseUrl, '--ice-server', 'none', '--json'])
  return { swarmcdnDir, plainDir, assets, totalBytes: assets.reduce((sum, asset) => sum + asset.bytes, 0) }
}

function page(title: string, head: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
${head}</head>
<body><h1>${title}</h1><p>The benchmark reads this site's assets from here with fetch() (bench-driver.js).</p></body></html>
`
}

async function bundle(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    outfile,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    // Workbox's production build: no dev logging or assertions.
    define: { 'process.env.NODE_ENV': '"production"', WORKBOX_CACHE_NAME: JSON.stringify(WORKBOX_CACHE_NAME) },
  })
}
