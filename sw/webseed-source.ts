// The HTTP source: one run of adjacent pieces per Range request, to the origin, then to each manifest
// mirror in order (the scheduler picks the runs and holds the HTTP slots). Pieces are emitted as soon
// as their bytes have arrived, not when the whole run has. Network errors and 5xx are retried with
// exponential backoff; a retry asks only for the pieces of the run not yet delivered.
// Every wait is bounded: a request whose headers take longer than webseedResponseTimeoutMs, or whose
// body sends no byte for webseedBodyStallMs, is aborted (fetch and reader) and retried like a
// network error, so a stuck connection never holds a webseed slot for good.

import type { Manifest, ManifestAsset } from '../core/manifest-format.ts'
import { pieceSize } from '../core/piece-math.ts'
import type { SwConfig } from './config.ts'
import { SwError, isAbortError, toSwError } from './errors.ts'
import type { HttpRuns } from './piece-scheduler.ts'
import type { PieceDelivery } from './piece-source.ts'
import { realSetTimer, withTimeout, type SetTimer } from './with-timeout.ts'

export type WebseedConfig = Pick<
  SwConfig,
  'webseedRetries' | 'webseedRetryBaseMs' | 'webseedResponseTimeoutMs' | 'webseedBodyStallMs'
>

export interface WebseedSourceOptions {
  fetch: (url: string, init: RequestInit) => Promise<Response>
  /** The SW's origin; assets are fetched from it first. */
  origin: string
  /** Scope and mirrors of the current manifest (null: origin only). */
  manifest: () => Pick<Manifest, 'scope' | 'mirrors'> | null
  config: WebseedConfig
  /** Default: setTimeout, cut short by the signal. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number
  /** Timers of the header and body-stall limits; default setTimeout. */
  setTimer?: SetTimer
  /**
   * Ask the browser's HTTP cache first (only-if-cached, the whole file) for a run from the origin, before the network.
   * Default false (every request goes to the network, past the cache); the service worker turns it on.
   */
  readHttpCache?: boolean
}

/**
 * URLs to try for an asset: the origin, then each mirror. A mirror base URL mirrors the manifest
 * scope: asset path `/scope/img/a.jpg` on mirror `https://m.example/site/` is `https://m.example/site/img/a.jpg`.
 */
export function webseedUrls(asset: ManifestAsset, origin: string, manifest: Pick<Manifest, 'scope' | 'mirrors'> | null): string[] {
  const urls = [new URL(asset.path, origin).href]
  if (!manifest) return urls
  const relative = asset.path.startsWith(manifest.scope) ? asset.path.slice(manifest.scope.length) : asset.path.replace(/^\/+/, '')
  for (const mirror of manifest.mirrors) {
    try {
      urls.push(new URL(relative, mirror.endsWith('/') ? mirror : `${mirror}/`).href)
    } catch {
      // validateManifest already checked mirrors; skip anything odd.
    }
  }
  return urls
}

/** Parses `bytes a-b/total`. */
export function parseContentRange(header: string | null): { start: number; end: number; total: number | null } | null {
  const match = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null
  if (!match) return null
  const start = Number(match[1])
  const end = Number(match[2])
  if (end < start) return null
  return { start, end, total: match[3] === '*' ? null : Number(match[3]) }
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}

/** Cache misses remembered at most (a site's assets; the memory starts over past it), and for how long. */
const MAX_REMEMBERED_MISSES = 1000
const HTTP_CACHE_MISS_TTL_MS = 10_000

/** One run of adjacent pieces from the origin, then the mirrors, with retries; no concurrency limit of its own. */
export type WebseedSource = HttpRuns

export function createWebseedSource(options: WebseedSourceOptions): WebseedSource {
  const { config } = options
  const sleep = options.sleep ?? defaultSleep
  const random = options.random ?? Math.random
  const setTimer = options.setTimer ?? realSetTimer
  // 0 (or less) turns a limit off.
  const responseTimeoutMs = config.webseedResponseTimeoutMs > 0 ? config.webseedResponseTimeoutMs : undefined
  const bodyStallMs = config.webseedBodyStallMs > 0 ? config.webseedBodyStallMs : undefined
  /** Files the HTTP cache did not hold when looked up (readHttpCache), until when to believe it. */
  const notInHttpCache = new Map<string, number>()

  /**
   * One Range request for pieces [from, last]; emits each complete piece and keeps the index after
   * the last one emitted in `progress.next`. Throws SwError (with the progress made so far).
   */
  async function requestRange(asset: ManifestAsset, url: string, from: number, last: number, emit: (piece: PieceDelivery) => void, progress: { next: number }, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new SwError('aborted', 'aborted')
    // One controller per attempt: a timeout aborts this request only, the caller's abort aborts it too.
    const attempt = new AbortController()
    const onAbort = () => attempt.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await requestRangeOnce(asset, url, from, last, emit, progress, signal, attempt)
    } finally {
      signal.removeEventListener('abort', onAbort)
      attempt.abort() // nothing of this attempt outlives it
    }
  }

  /**
   * A file the browser's HTTP cache already holds (a page loaded it before the SW) is read from it; what
   * it lacks is fetched with no-store, past the cache: with the cache writing Range answers, Chromium
   * sent concurrent Range requests for one file to the origin twice (bench:net, 20 Mbit/s origin: +35%
   * origin bytes for a visitor alone, none with no-store). Mirrors (other origins) cannot be asked
   * only-if-cached; every piece is verified whatever answers.
   */
  async function fetchRange(url: string, range: string, signal: AbortSignal): Promise<{ response: Response; cached: boolean }> {
    if (options.readHttpCache && new URL(url).origin === options.origin && (notInHttpCache.get(url) ?? 0) <= Date.now()) {
      // The run itself (a range another request of this browser is writing to the cache), then the
      // whole file as a page loaded it (Chromium's cache did not answer that Range lookup; the caller
      // slices the run out of a 200).
      for (const headers of [{ Range: range }, {}] as Record<string, string>[]) {
        const cached = await options.fetch(url, { headers, signal, credentials: 'same-origin', cache: 'only-if-cached', mode: 'same-origin' }).catch(() => null)
        if (cached && (cached.status === 206 || cached.status === 200)) return { response: cached, cached: true }
        if (cached) await cancelBody(cached)
        if (signal.aborted) throw new DOMException('aborted', 'AbortError')
      }
      // Neither: the next runs of this file skip both lookups for a while. Two lookups per run had
      // cost the worker's thread about 0.5 s per 20 MB page (bench:net, a visitor with peers: 87
      // lookups). Only for a while: a whole-file response the worker hands over untouched
      // (origin-stream.ts) does fill the cache.
      if (notInHttpCache.size >= MAX_REMEMBERED_MISSES) notInHttpCache.clear()
      notInHttpCache.set(url, Date.now() + HTTP_CACHE_MISS_TTL_MS)
    }
    return { response: await options.fetch(url, { headers: { Range: range }, signal, credentials: 'same-origin', cache: 'no-store' }), cached: false }
  }

  async function requestRangeOnce(
    asset: ManifestAsset,
    url: string,
    from: number,
    last: number,
    emit: (piece: PieceDelivery) => void,
    progress: { next: number },
    signal: AbortSignal,
    attempt: AbortController,
  ): Promise<void> {
    const { pieceLength, length } = asset
    const start = from * pieceLength
    const end = Math.min((last + 1) * pieceLength, length) - 1
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
    /** Aborts the fetch and cancels the reader (a fetch may ignore its signal once the headers are in). */
    const timeout = (what: string) => (): never => {
      attempt.abort()
      reader?.cancel().catch(() => undefined)
      throw new SwError('webseed-timeout', `${url}: ${what}`, { retriable: true })
    }
    let response: Response
    let cached: boolean
    try {
      const answer = fetchRange(url, `bytes=${start}-${end}`, attempt.signal)
      // A late answer to a request that timed out is dropped, its body cancelled.
      answer.then((late) => attempt.signal.aborted && void cancelBody(late.response), () => undefined)
      ;({ response, cached } = await withTimeout(answer, responseTimeoutMs, timeout(`no response headers within ${responseTimeoutMs} ms`), setTimer))
    } catch (error) {
      if (error instanceof SwError) throw error
      if (isAbortError(error) || signal.aborted) throw toSwError(error)
      throw new SwError('webseed-network', `${url}: ${String(error)}`, { retriable: true, cause: error })
    }
    let bodyOffset: number
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'))
      if (!range || range.start !== start || range.end > end || (range.total !== null && range.total !== length)) {
        await cancelBody(response)
        throw new SwError('webseed-bad-response', `${url}: Content-Range ${response.headers.get('content-range')} does not answer bytes=${start}-${end}/${length}`)
      }
      bodyOffset = start
    } else if (response.status === 200) {
      // A server that ignores Range: fine if it is the whole file; we slice what we need.
      const declared = response.headers.get('content-length')
      if (declared !== null && Number(declared) !== length) {
        await cancelBody(response)
        throw new SwError('webseed-bad-response', `${url}: 200 with ${declared} bytes, expected ${length}`)
      }
      bodyOffset = 0
    } else {
      await cancelBody(response)
      const retriable = response.status >= 500 || response.status === 429 || response.status === 408
      throw new SwError('webseed-http-status', `${url}: HTTP ${response.status}`, { retriable })
    }
    if (!response.body) throw new SwError('webseed-bad-response', `${url}: no body`)

    // Assemble pieces from the body stream; emit each as soon as it is complete.
    reader = response.body.getReader()
    let position = bodyOffset // absolute byte offset of the next body byte
    let piece = new Uint8Array(pieceSize(progress.next, length, pieceLength))
    let filled = 0
    try {
      while (progress.next <= last) {
        let chunk: ReadableStreamReadResult<Uint8Array>
        try {
          chunk = await withTimeout(reader.read(), bodyStallMs, timeout(`body sent nothing for ${bodyStallMs} ms at byte ${position}`), setTimer)
        } catch (error) {
          if (error instanceof SwError) throw error
          throw new SwError('webseed-network', `${url}: body failed: ${String(error)}`, { retriable: true, cause: error })
        }
        if (chunk.done) break
        let bytes = chunk.value
        const pieceStart = progress.next * pieceLength
        if (position < pieceStart + filled) {
          // Skip body bytes before what we need (only with a 200 whole-file body).
          const skip = Math.min(bytes.length, pieceStart + filled - position)
          position += skip
          bytes = bytes.subarray(skip)
        }
        while (bytes.length > 0 && progress.next <= last && !signal.aborted) {
          const take = Math.min(bytes.length, piece.length - filled)
          piece.set(bytes.subarray(0, take), filled)
          filled += take
          position += take
          bytes = bytes.subarray(take)
          if (filled === piece.length) {
            emit(cached ? { index: progress.next, bytes: piece, cached: true } : { index: progress.next, bytes: piece })
            progress.next++
            if (progress.next <= last) piece = new Uint8Array(pieceSize(progress.next, length, pieceLength))
            filled = 0
          }
        }
      }
    } finally {
      reader.cancel().catch(() => undefined) // stops a 200 whole-file body once we have what we need
    }
    if (progress.next <= last) throw new SwError('webseed-network', `${url}: body ended early at byte ${position}`, { retriable: true })
  }

  /** Delivers every piece of the run first..last, or throws the last error after all URLs and retries. */
  async function fetchRun(asset: ManifestAsset, first: number, last: number, emit: (piece: PieceDelivery) => void, signal: AbortSignal): Promise<void> {
    const progress = { next: first }
    let lastError: SwError = new SwError('no-source', 'no webseed URL')
    for (const url of webseedUrls(asset, options.origin, options.manifest())) {
      let failures = 0
      while (progress.next <= last) {
        if (signal.aborted) throw new SwError('aborted', 'aborted')
        const before = progress.next
        try {
          await requestRange(asset, url, progress.next, last, emit, progress, signal)
          return
        } catch (error) {
          lastError = toSwError(error)
          if (lastError.code === 'aborted' || signal.aborted) throw lastError
          if (!lastError.retriable) break // 4xx or a wrong answer: this URL will not do better
          failures = progress.next > before ? 1 : failures + 1 // progress resets the count
          if (failures > config.webseedRetries) break
          await sleep(config.webseedRetryBaseMs * 2 ** (failures - 1) * (0.5 + 0.5 * random()), signal)
        }
      }
    }
    throw lastError
  }

  return { fetchRun }
}

async function cancelBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined)
}
