// The benchmark page's media, made on this machine and cached: JPEG photos of chosen sizes (noise-rich,
// so they are as large as real photos and really decode), a VP8 WebM video (drawn and encoded by
// headless Chromium with WebCodecs, muxed by webm-muxer) and a download of incompressible bytes.

import { mkdir, writeFile, readFile, rename, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { launchChromium } from '../../e2e/helpers/browser.ts'

const require = createRequire(import.meta.url)

export interface BenchMediaSpec {
  /** Target size of each photo, bytes (met within a few percent). */
  imageBytes: number[]
  videoSeconds: number
  videoKbit: number
  downloadBytes: number
}

export interface BenchMediaFile {
  /** File name in the media folder. */
  name: string
  bytes: number
}

export interface BenchMedia {
  dir: string
  images: BenchMediaFile[]
  video: BenchMediaFile & { seconds: number }
  download: BenchMediaFile
}

const MEDIA_VERSION = 1
const MEDIA_CACHE = fileURLToPath(new URL('../../.cache/bench-net', import.meta.url))

/** The benchmarks' media flags (`--images-kb`, `--video-seconds`, `--video-kbit`, `--download-mb`). */
export interface BenchMediaFlags {
  imagesKb: number[]
  videoSeconds: number
  videoKbit: number
  downloadMb: number
}

/** bench:net's page by default: four photos, a 12 s film and a 3 MB download (19.8 MB with the HTML). */
export const BENCH_NET_PAGE_MEDIA: BenchMediaFlags = { imagesKb: [300, 800, 1500, 3000], videoSeconds: 12, videoKbit: 7500, downloadMb: 3 }

/** ensureBenchMedia for a benchmark's flags, cached in the repository's .cache/bench-net. */
export function ensureBenchMediaForFlags(flags: BenchMediaFlags, log: (line: string) => void): Promise<BenchMedia> {
  return ensureBenchMedia(MEDIA_CACHE, {
    imageBytes: flags.imagesKb.map((kb) => Math.round(kb * 1000)),
    videoSeconds: flags.videoSeconds,
    videoKbit: flags.videoKbit,
    downloadBytes: Math.round(flags.downloadMb * 1e6),
  }, log)
}

/** Makes the media once per spec into `cacheRoot`; later calls reuse them. */
export async function ensureBenchMedia(cacheRoot: string, spec: BenchMediaSpec, log: (line: string) => void): Promise<BenchMedia> {
  const key = `v${MEDIA_VERSION}-img${spec.imageBytes.join('_')}-vid${spec.videoSeconds}s${spec.videoKbit}k-dl${spec.downloadBytes}`
  const dir = join(cacheRoot, key)
  const indexFile = join(dir, 'media.json')
  if (existsSync(indexFile)) return JSON.parse(await readFile(indexFile, 'utf8')) as BenchMedia
  log('making the benchmark media (once; cached in ' + cacheRoot + ')')
  const partial = `${dir}.${process.pid}.tmp`
  await rm(partial, { recursive: true, force: true })
  await mkdir(partial, { recursive: true })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    // WebCodecs needs a secure context: a blank page on http://127.0.0.1 is one.
    const server = createServer((_req, res) => res.end('<!doctype html><title>media</title>'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    server.close()
    await page.addScriptTag({ content: 'window.__name = (fn) => fn' })
    await page.addScriptTag({ path: join(dirname(require.resolve('webm-muxer')), 'webm-muxer.js') })

    const images: BenchMediaFile[] = []
    for (const [i, target] of spec.imageBytes.entries()) {
      const base64: string = await page.evaluate(drawPhotoInPage, { seed: i + 1, targetBytes: target })
      const name = `photo-${i + 1}.jpg`
      const bytes = Buffer.from(base64, 'base64')
      await writeFile(join(partial, name), bytes)
      images.push({ name, bytes: bytes.length })
    }
    const videoBase64: string = await page.evaluate(encodeVideoInPage, { seconds: spec.videoSeconds, kbit: spec.videoKbit })
    const videoBytes = Buffer.from(videoBase64, 'base64')
    await writeFile(join(partial, 'film.webm'), videoBytes)
    const download = incompressibleBytes(spec.downloadBytes)
    await writeFile(join(partial, 'dataset.bin'), download)
    const media: BenchMedia = {
      dir,
      images,
      video: { name: 'film.webm', bytes: videoBytes.length, seconds: spec.videoSeconds },
      download: { name: 'dataset.bin', bytes: download.length },
    }
    await writeFile(join(partial, 'media.json'), JSON.stringify(media, null, 2))
    await rm(dir, { recursive: true, force: true })
    await rename(partial, dir)
    log(`media: photos ${images.map((f) => (f.bytes / 1e6).toFixed(2)).join(', ')} MB; video ${(videoBytes.length / 1e6).toFixed(1)} MB; download ${(download.length / 1e6).toFixed(1)} MB`)
    return media
  } finally {
    await browser.close()
  }
}

/** xorshift bytes: the same file everywhere, incompressible like a real archive. */
function incompressibleBytes(length: number): Buffer {
  const bytes = Buffer.alloc(length)
  let x = 0x6d2b79f5
  for (let i = 0; i + 4 <= length; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes.writeUInt32LE(x >>> 0, i)
  }
  return bytes
}

// Runs in the page: a noisy "photo" whose JPEG quality is searched until its size is near the target.
async function drawPhotoInPage({ seed, targetBytes }: { seed: number; targetBytes: number }): Promise<string> {
  // ~0.45 bytes per pixel at quality 0.9 for this kind of picture: pick the size, then tune the quality.
  const pixels = targetBytes / 0.4
  const width = Math.round(Math.sqrt(pixels * 1.5))
  const height = Math.round(width / 1.5)
  const canvas = new OffscreenCanvas(width, height)
  const ctx = canvas.getContext('2d')!
  let x = seed * 2654435761
  const rand = () => ((x = (x ^ (x << 13)) >>> 0), (x = (x ^ (x >>> 17)) >>> 0), (x = (x ^ (x << 5)) >>> 0), x / 4294967296)
  const hue = (seed * 67) % 360
  const bg = ctx.createRadialGradient(width * rand(), height * rand(), 50, width / 2, height / 2, width)
  bg.addColorStop(0, `hsl(${hue} 80% 70%)`)
  bg.addColorStop(1, `hsl(${(hue + 140) % 360} 60% 20%)`)
  ctx.fillStyle = bg
  ctx.fillRect(0, 0, width, height)
  for (let i = 0; i < 600; i++) {
    ctx.fillStyle = `hsla(${(hue + rand() * 120) % 360} ${50 + rand() * 50}% ${30 + rand() * 50}% / ${0.2 + rand() * 0.5})`
    ctx.beginPath()
    ctx.arc(width * rand(), height * rand(), 4 + (rand() * width) / 25, 0, Math.PI * 2)
    ctx.fill()
  }
  const image = ctx.getImageData(0, 0, width, height)
  for (let i = 0; i < image.data.length; i += 4) {
    const n = (rand() - 0.5) * 44
    image.data[i] += n
    image.data[i + 1] += n
    image.data[i + 2] += n
  }
  ctx.putImageData(image, 0, 0)
  let [lo, hi] = [0.3, 1]
  let best: Blob | null = null
  for (let step = 0; step < 9; step++) {
    const quality = (lo + hi) / 2
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality })
    if (!best || Math.abs(blob.size - targetBytes) < Math.abs(best.size - targetBytes)) best = blob
    if (Math.abs(blob.size - targetBytes) < targetBytes * 0.02) break
    if (blob.size > targetBytes) hi = quality
    else lo = quality
  }
  const bytes = new Uint8Array(await best!.arrayBuffer())
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

// Runs in the page: a small, detailed VP8 video (moving noise and shapes keep the bitrate up),
// keyframe every second so seeking lands quickly; 640×360 at 10 fps keeps decoding cheap.
async function encodeVideoInPage({ seconds, kbit }: { seconds: number; kbit: number }): Promise<string> {
  const width = 640
  const height = 360
  const fps = 10
  const { Muxer, ArrayBufferTarget } = (window as any).WebMMuxer
  const muxer = new Muxer({ target: new ArrayBufferTarget(), video: { codec: 'V_VP8', width, height, frameRate: fps }, firstTimestampBehavior: 'offset' })
  const encoder = new (window as any).VideoEncoder({
    output: (chunk: unknown, meta: unknown) => muxer.addVideoChunk(chunk, meta),
    error: (e: Error) => { throw e },
  })
  encoder.configure({ codec: 'vp8', width, height, bitrate: kbit * 1000, bitrateMode: 'constant', framerate: fps })
  const canvas = new OffscreenCanvas(width, height)
  const ctx = canvas.getContext('2d')!
  let x = 0x9e3779b9
  const rand = () => ((x = (x ^ (x << 13)) >>> 0), (x = (x ^ (x >>> 17)) >>> 0), (x = (x ^ (x << 5)) >>> 0), x / 4294967296)
  for (let f = 0; f < seconds * fps; f++) {
    const t = f / fps
    ctx.fillStyle = `hsl(${(t * 30) % 360} 50% 30%)`
    ctx.fillRect(0, 0, width, height)
    for (let b = 0; b < 30; b++) {
      ctx.fillStyle = `hsl(${(b * 29 + t * 20) % 360} 60% ${30 + (b % 5) * 8}%)`
      ctx.fillRect((b * 83 + t * 60 * (1 + (b % 3))) % width, (b * 47) % height, 40 + (b % 7) * 10, 30 + (b % 5) * 12)
    }
    const image = ctx.getImageData(0, 0, width, height)
    for (let i = 0; i < image.data.length; i += 4) {
      const n = (rand() - 0.5) * 90
      image.data[i] += n
      image.data[i + 1] += n
      image.data[i + 2] += n
    }
    ctx.putImageData(image, 0, 0)
    ctx.fillStyle = 'white'
    ctx.font = 'bold 32px sans-serif'
    ctx.fillText(`swarmcdn bench ${t.toFixed(1)} s`, 20, 50)
    const frame = new (window as any).VideoFrame(canvas, { timestamp: Math.round(t * 1e6), duration: Math.round(1e6 / fps) })
    encoder.encode(frame, { keyFrame: f % fps === 0 })
    frame.close()
    if (encoder.encodeQueueSize > 4) await new Promise((r) => setTimeout(r, 0))
  }
  await encoder.flush()
  muxer.finalize()
  const bytes = new Uint8Array(muxer.target.buffer)
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}
