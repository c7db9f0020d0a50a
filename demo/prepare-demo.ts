// Assembles the demo site: pages (layout + demo/pages/), static assets, generated media, a development
// key (kept out of git), then `swarmcdn build` (hash, torrents, signed manifest, swarmcdn.js and swarmcdn-sw.js).

import { cp, mkdir, rm, copyFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join, basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeDemoMedia } from './media/make-demo-media.ts'
import { renderDemoPages } from './render-pages.ts'
import { keygen } from '../origin-tools/src/commands/keygen.ts'
import { buildSite, BUILD_DEFAULTS, type BuildResult } from '../origin-tools/src/commands/build.ts'

export const DEMO_DIR = fileURLToPath(new URL('.', import.meta.url))

export interface PrepareDemoOptions {
  /** Where the built site goes. Default demo/site. */
  outDir?: string
  /** Base URL the site is served at (torrent url-lists). */
  baseUrl: string
  /** Smaller media for tests. */
  videoSeconds?: number
  images?: number
  log?: (line: string) => void
}

export interface PreparedDemo {
  siteDir: string
  keyFile: string
  build: BuildResult
}

export async function prepareDemo(options: PrepareDemoOptions): Promise<PreparedDemo> {
  const log = options.log ?? (() => {})
  const siteDir = options.outDir ?? join(DEMO_DIR, 'site')
  const videoSeconds = options.videoSeconds ?? 20
  const images = options.images ?? 6

  // Media are made once per size and cached: encoding takes a few seconds of Chromium.
  const mediaDir = join(DEMO_DIR, '.cache', `media-${videoSeconds}s-${images}img`)
  if (!existsSync(join(mediaDir, 'open-dataset.bin'))) {
    log('making demo media (once)…')
    await makeDemoMedia({ outDir: mediaDir + '.tmp', videoSeconds, images, downloadBytes: 8 * 1024 * 1024, log })
    await rm(mediaDir, { recursive: true, force: true })
    await cp(mediaDir + '.tmp', mediaDir, { recursive: true })
    await rm(mediaDir + '.tmp', { recursive: true, force: true })
  }

  await rm(siteDir, { recursive: true, force: true })
  await cp(join(DEMO_DIR, 'site-template'), siteDir, { recursive: true })
  await renderDemoPages(join(DEMO_DIR, 'pages'), siteDir)
  await mkdir(join(siteDir, 'media'), { recursive: true })
  await mkdir(join(siteDir, 'downloads'), { recursive: true })
  for (let i = 1; i <= images; i++) {
    const name = `photo-${String(i).padStart(2, '0')}.jpg`
    await copyFile(join(mediaDir, name), join(siteDir, 'media', name))
  }
  await copyFile(join(mediaDir, 'city-lights.webm'), join(siteDir, 'media', 'city-lights.webm'))
  await copyFile(join(mediaDir, 'open-dataset.bin'), join(siteDir, 'downloads', 'open-dataset.bin'))

  const keyFile = join(DEMO_DIR, '.keys', 'dev-signing.pem')
  if (!existsSync(keyFile)) {
    await mkdir(join(DEMO_DIR, '.keys'), { recursive: true })
    const { publicKey } = await keygen(keyFile)
    log(`created development key ${keyFile} (public ${publicKey})`)
  }
  const build = await buildSite({
    siteDir,
    keyFile,
    baseUrl: options.baseUrl,
    trackers: [...BUILD_DEFAULTS.trackers],
    mirrors: [],
    minSizeBytes: BUILD_DEFAULTS.minSizeBytes,
    expiresInDays: 7,
    killSwitch: false,
    json: true,
  })
  log(`built ${basename(siteDir)}: ${build.assets.length} P2P assets, manifest sequence ${build.manifest.sequence}`)
  return { siteDir, keyFile, build }
}
