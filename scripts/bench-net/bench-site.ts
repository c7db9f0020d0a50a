// The benchmark's site: a light home page (where a visitor arrives and the service worker installs)
// and the measured page, built and signed with the real CLI (`swarmcdn keygen`, `swarmcdn build`).
//
// The measured page (page.html) loads the way a browser loads a page: the parser starts every <img>
// at once, the <video preload="auto"> starts buffering, and a script fetches the download in
// parallel. "Page load time" is measured in the page, from navigation start (performance.now() = 0)
// until ALL of these hold:
//   - every image has decoded (img.decode() resolved; a broken image counts as a failure);
//   - the download's body has been read whole (its length and SHA-256 are checked afterwards);
//   - the video is fully buffered (one buffered range covering 0…duration) or has played to its end.
//     The page plays it muted at 16× (Chromium's maximum): a playing video at that rate makes Chromium
//     buffer far ahead (a paused one stops after ~10 s of media), so the whole file is read.

import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { runSwarmcdnCli } from '../run-cli.ts'
import { fileURLToPath } from 'node:url'
import type { BenchMedia } from './bench-media.ts'

const CLI = fileURLToPath(new URL('../../origin-tools/bin/swarmcdn.js', import.meta.url))

export interface BenchAsset {
  path: string
  bytes: number
  sha256: string
  kind: 'image' | 'video' | 'download'
}

export interface BenchSite {
  siteDir: string
  baseUrl: string
  homePath: string
  pagePath: string
  assets: BenchAsset[]
  /** Sum of the page's assets and its HTML, bytes: one "copy of the page". */
  pageBytes: number
}

export interface BenchSiteOptions {
  workDir: string
  media: BenchMedia
  /** http://203.0.113.10/ */
  baseUrl: string
  /** Extra `swarmcdn build` arguments (e.g. --ice-server …). */
  buildArgs?: string[]
  /** window.SWARMCDN_CONFIG for both pages, or none. */
  pageConfig?: unknown
}

const runCli = (args: string[]) => runSwarmcdnCli(CLI, args)

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

export async function createBenchSite(options: BenchSiteOptions): Promise<BenchSite> {
  const siteDir = join(options.workDir, 'site')
  await mkdir(join(siteDir, 'media'), { recursive: true })
  await mkdir(join(siteDir, 'downloads'), { recursive: true })
  const assets: BenchAsset[] = []
  const add = async (file: string, path: string, kind: BenchAsset['kind']) => {
    await copyFile(join(options.media.dir, file), join(siteDir, path))
    const bytes = await readFile(join(siteDir, path))
    assets.push({ path: `/${path}`, bytes: bytes.length, sha256: sha256(bytes), kind })
  }
  for (const image of options.media.images) await add(image.name, `media/${image.name}`, 'image')
  await add(options.media.video.name, `media/${options.media.video.name}`, 'video')
  await add(options.media.download.name, `downloads/${options.media.download.name}`, 'download')

  const configScript = options.pageConfig === undefined ? '' : `<script>window.SWARMCDN_CONFIG = ${JSON.stringify(options.pageConfig)}</script>\n`
  await writeFile(join(siteDir, 'index.html'), homeHtml(configScript))
  const page = pageHtml(assets, configScript)
  await writeFile(join(siteDir, 'page.html'), page)

  const keyFile = join(options.workDir, 'bench-key.pem')
  await runCli(['keygen', '--out', keyFile])
  await runCli(['build', siteDir, '--key', keyFile, '--base-url', options.baseUrl, '--json', ...(options.buildArgs ?? [])])
  return {
    siteDir,
    baseUrl: options.baseUrl,
    homePath: '/',
    pagePath: '/page.html',
    assets,
    pageBytes: assets.reduce((sum, asset) => sum + asset.bytes, 0) + Buffer.byteLength(page),
  }
}

function homeHtml(configScript: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bench site</title>
${configScript}<script src="/swarmcdn.js" async></script></head>
<body><h1>Bench site</h1><p>The home page: light, so a visitor's service worker installs here before the <a href="/page.html">page</a>.</p></body></html>
`
}

function pageHtml(assets: BenchAsset[], configScript: string): string {
  const images = assets.filter((a) => a.kind === 'image')
  const video = assets.find((a) => a.kind === 'video')!
  const download = assets.find((a) => a.kind === 'download')!
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bench page</title>
${configScript}<script src="/swarmcdn.js" async></script>
<style>img { width: 240px; height: auto; } video { width: 320px; }</style></head>
<body><h1>Photos, a film and a download</h1>
${images.map((image) => `<img src="${image.path}" alt="">`).join('\n')}
<video id="film" src="${video.path}" preload="auto" muted playsinline></video>
<script>
// Page load = every image decoded + the download read whole + the video fully buffered or ended.
// Main-thread long tasks during the load: the page's peer agent runs there, so a busy main thread
// delays every piece it serves or receives.
window.__longTasks = { count: 0, ms: 0 }
try {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) { window.__longTasks.count++; window.__longTasks.ms += entry.duration }
  }).observe({ type: 'longtask', buffered: true })
} catch {}
window.__bench = (() => {
  const now = () => performance.now()
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('')
  const images = Array.from(document.images, (img) => img.decode().then(
    () => ({ path: img.getAttribute('src'), ms: now(), width: img.naturalWidth }),
    (error) => ({ path: img.getAttribute('src'), ms: now(), error: String(error) })))
  const download = fetch(${JSON.stringify(download.path)}).then(async (res) => {
    const body = await res.arrayBuffer()
    const ms = now()
    return { path: ${JSON.stringify(download.path)}, ms, status: res.status, bytes: body.byteLength, sha256: hex(await crypto.subtle.digest('SHA-256', body)) }
  }, (error) => ({ path: ${JSON.stringify(download.path)}, ms: now(), error: String(error) }))
  const video = new Promise((resolve) => {
    const film = document.getElementById('film')
    const done = (how) => { clearInterval(timer); resolve({ path: ${JSON.stringify(video.path)}, ms: now(), how, duration: film.duration }) }
    const check = () => {
      const b = film.buffered
      if (film.ended) return done('ended')
      if (b.length === 1 && b.start(0) <= 0.05 && film.duration > 0 && b.end(0) >= film.duration - 0.05) done('buffered')
    }
    const timer = setInterval(check, 50)
    film.addEventListener('progress', check)
    film.addEventListener('ended', check)
    film.addEventListener('error', () => { clearInterval(timer); resolve({ path: ${JSON.stringify(video.path)}, ms: now(), error: 'media error ' + (film.error && film.error.code) }) })
    film.muted = true
    film.defaultPlaybackRate = 16
    film.playbackRate = 16
    film.play().catch((error) => resolve({ path: ${JSON.stringify(video.path)}, ms: now(), error: 'play: ' + error }))
  })
  return Promise.all([Promise.all(images), download, video]).then(([images, download, video]) => {
    const parts = [...images, download, video]
    const failed = parts.filter((part) => part.error)
    return { loadMs: Math.max(...parts.map((part) => part.ms)), images, download, video, errors: failed.map((part) => part.path + ': ' + part.error), longTasks: { count: window.__longTasks.count, ms: Math.round(window.__longTasks.ms) } }
  })
})()
</script>
</body></html>
`
}
