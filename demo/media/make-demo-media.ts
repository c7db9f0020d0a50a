// Makes the demo's media from what this machine has: headless Chromium draws the frames and images,
// WebCodecs encodes VP8, webm-muxer writes a seekable WebM (with cues). No media files are committed.
//
//   node --import tsx demo/media/make-demo-media.ts <out-dir> [--video-seconds 20] [--images 6]

import { mkdir, writeFile, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { launchChromium } from '../../e2e/helpers/browser.ts'

const require = createRequire(import.meta.url)

export interface DemoMediaOptions {
  outDir: string
  videoSeconds: number
  images: number
  /** Size of the download file, bytes. */
  downloadBytes: number
  log?: (line: string) => void
}

export interface DemoMedia {
  video: string
  images: string[]
  download: string
}

export async function makeDemoMedia(options: DemoMediaOptions): Promise<DemoMedia> {
  const log = options.log ?? (() => {})
  await mkdir(options.outDir, { recursive: true })
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    // WebCodecs needs a secure context: a blank page on http://127.0.0.1 is one, about:blank is not.
    const server = createServer((_req, res) => res.end('<!doctype html><title>media</title>'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    server.close()
    // tsx (esbuild keepNames) wraps named functions in __name(); functions evaluated in the page need it too.
    await page.addScriptTag({ content: 'window.__name = (fn) => fn' })
    // The package's UMD build (not in its exports map) defines window.WebMMuxer.
    await page.addScriptTag({ path: join(dirname(require.resolve('webm-muxer')), 'webm-muxer.js') })

    log(`encoding ${options.videoSeconds} s of VP8 video`)
    const videoBase64: string = await page.evaluate(encodeVideoInPage, { seconds: options.videoSeconds })
    const video = join(options.outDir, 'city-lights.webm')
    await writeFile(video, Buffer.from(videoBase64, 'base64'))

    const images: string[] = []
    for (let i = 0; i < options.images; i++) {
      const jpegBase64: string = await page.evaluate(drawImageInPage, { seed: i + 1 })
      const file = join(options.outDir, `photo-${String(i + 1).padStart(2, '0')}.jpg`)
      await writeFile(file, Buffer.from(jpegBase64, 'base64'))
      images.push(file)
    }
    log(`drew ${images.length} photos`)

    const download = join(options.outDir, 'open-dataset.bin')
    await writeFile(download, deterministicBytes(options.downloadBytes))
    log(`video ${((await stat(video)).size / 1e6).toFixed(1)} MB, download ${(options.downloadBytes / 1e6).toFixed(1)} MB`)
    return { video, images, download }
  } finally {
    await browser.close()
  }
}

/** xorshift bytes: the same file on every machine, incompressible like a real archive. */
function deterministicBytes(length: number): Buffer {
  const bytes = Buffer.alloc(length)
  let x = 0x9e3779b9
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes.writeUInt32LE(x >>> 0, i)
  }
  return bytes
}

// Runs in the page. Animated scene, keyframe every second so seeking lands quickly.
async function encodeVideoInPage({ seconds }: { seconds: number }): Promise<string> {
  const width = 960
  const height = 540
  const fps = 25
  const { Muxer, ArrayBufferTarget } = (window as any).WebMMuxer
  const muxer = new Muxer({ target: new ArrayBufferTarget(), video: { codec: 'V_VP8', width, height, frameRate: fps }, firstTimestampBehavior: 'offset' })
  const encoder = new (window as any).VideoEncoder({
    output: (chunk: unknown, meta: unknown) => muxer.addVideoChunk(chunk, meta),
    error: (e: Error) => { throw e },
  })
  encoder.configure({ codec: 'vp8', width, height, bitrate: 2_500_000, framerate: fps })
  const canvas = new OffscreenCanvas(width, height)
  const ctx = canvas.getContext('2d')!
  for (let f = 0; f < seconds * fps; f++) {
    const t = f / fps
    const sky = ctx.createLinearGradient(0, 0, 0, height)
    sky.addColorStop(0, `hsl(${(220 + t * 4) % 360} 60% 18%)`)
    sky.addColorStop(1, `hsl(${(260 + t * 4) % 360} 50% 40%)`)
    ctx.fillStyle = sky
    ctx.fillRect(0, 0, width, height)
    for (let b = 0; b < 40; b++) {
      const bw = 20 + ((b * 37) % 50)
      const bh = 80 + ((b * 53) % 260)
      const bx = ((b * 83 - t * 30 * (1 + (b % 3))) % (width + 100) + width + 100) % (width + 100) - 50
      ctx.fillStyle = `hsl(${(b * 29) % 360} 30% ${12 + (b % 5) * 3}%)`
      ctx.fillRect(bx, height - bh, bw, bh)
      for (let w = 0; w < bh / 14; w++) {
        ctx.fillStyle = (b * 7 + w + Math.floor(t * 2)) % 5 === 0 ? '#ffd56b' : '#263043'
        ctx.fillRect(bx + 4, height - bh + 6 + w * 14, bw - 8, 6)
      }
    }
    ctx.fillStyle = 'white'
    ctx.font = 'bold 48px sans-serif'
    ctx.fillText(`swarmcdn demo  ${t.toFixed(2)} s`, 40, 80)
    const frame = new (window as any).VideoFrame(canvas, { timestamp: Math.round(t * 1e6), duration: Math.round(1e6 / fps) })
    encoder.encode(frame, { keyFrame: f % fps === 0 })
    frame.close()
    if (encoder.encodeQueueSize > 10) await new Promise((r) => setTimeout(r, 0))
  }
  await encoder.flush()
  muxer.finalize()
  const bytes = new Uint8Array(muxer.target.buffer)
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

// Runs in the page. A detailed "photo" (noise-rich so JPEG stays large, like a real photo).
async function drawImageInPage({ seed }: { seed: number }): Promise<string> {
  const width = 2400
  const height = 1600
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
  for (let i = 0; i < 900; i++) {
    ctx.fillStyle = `hsla(${(hue + rand() * 120) % 360} ${50 + rand() * 50}% ${30 + rand() * 50}% / ${0.2 + rand() * 0.5})`
    ctx.beginPath()
    ctx.arc(width * rand(), height * rand(), 4 + rand() * 90, 0, Math.PI * 2)
    ctx.fill()
  }
  const image = ctx.getImageData(0, 0, width, height)
  for (let i = 0; i < image.data.length; i += 4) {
    const n = (rand() - 0.5) * 40
    image.data[i] += n
    image.data[i + 1] += n
    image.data[i + 2] += n
  }
  ctx.putImageData(image, 0, 0)
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.92 })
  const bytes = new Uint8Array(await blob.arrayBuffer())
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const outDir = args[0]
  if (!outDir || outDir === '--help') {
    console.log('usage: node --import tsx demo/media/make-demo-media.ts <out-dir> [--video-seconds 20] [--images 6]')
    process.exit(outDir ? 0 : 2)
  }
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(name)
    return i >= 0 ? Number(args[i + 1]) : fallback
  }
  await makeDemoMedia({ outDir, videoSeconds: flag('--video-seconds', 20), images: flag('--images', 6), downloadBytes: 8 * 1024 * 1024, log: console.log })
}
