// Runs in the benchmark's pages (bundled into both sites as /bench-driver.js). The browser has no
// automation attached (a DevTools client's network instrumentation measurably slows every read), so
// the pages drive the visit themselves: the plan rides in the URL, each step navigates to the next,
// and results go to the bench's collector with fetch(no-cors). Steps:
//   home  : http → cold; workbox → register the Workbox SW, wait until it controls → cold;
//           swarmcdn → wait until swarmcdn's SW (registered by swarmcdn.js) controls → cold.
//   cold  : timed pass; http → done; workbox → wait until Cache Storage holds every asset → prime;
//           swarmcdn → prime.
//   prime : untimed pass, a new navigation each; swarmcdn repeats it (with a growing pause) until
//           every response came from the store, up to a few times; → warm.
//   warm  : timed pass → done.
// Every page waits for its load event, then (swarmcdn) for window.swarmcdn.ready, then settleMs.

export interface DriverPlan {
  variant: 'http' | 'workbox' | 'swarmcdn'
  visitId: string
  collector: string
  paths: string[]
  settleMs: number
  readyTimeoutMs: number
  primeTries: number
  /** A pass not done by then is reported as stuck, with the asset it was reading. */
  passTimeoutMs: number
  workboxFile: string
  workboxCache: string
  pagePath: string
}

export interface PageRead {
  path: string
  ms: number
  status?: number
  bytes?: number
  sha256?: string
  sources?: string | null
  viaSw?: boolean
  error?: string
}

export interface PageReport {
  visitId: string
  /** progress: the step a page has reached (so a visit that stalls says where). */
  kind: 'progress' | 'pass' | 'done' | 'error'
  step?: string
  reads?: PageRead[]
  wallMs?: number
  /** Extra facts of the step (peers, whether everything was cached or stored). */
  facts?: Record<string, unknown>
  error?: string
}

interface SwarmcdnApi {
  ready: Promise<unknown>
  stats(): Promise<{ peers: number }>
}

const params = new URLSearchParams(location.search)
const planText = params.get('plan')
if (planText) void drive(JSON.parse(planText) as DriverPlan, params.get('step') ?? 'home', Number(params.get('try') ?? 0))

async function drive(plan: DriverPlan, step: string, attempt: number): Promise<void> {
  const report = (message: Omit<PageReport, 'visitId'>) =>
    fetch(`${plan.collector}/report`, { method: 'POST', mode: 'no-cors', body: JSON.stringify({ visitId: plan.visitId, ...message }) })
  const go = (next: string, nextTry = 0) => {
    location.href = `${plan.pagePath}?plan=${encodeURIComponent(JSON.stringify(plan))}&step=${next}&try=${nextTry}`
  }
  try {
    const note = (what: string) => void report({ kind: 'progress', step: `${step} ${attempt}: ${what}` })
    await pageSettled(plan, note)
    if (step === 'home') {
      if (plan.variant === 'workbox') await navigator.serviceWorker.register(`/${plan.workboxFile}`)
      if (plan.variant !== 'http') await controlledBy(plan.variant === 'workbox' ? plan.workboxFile : 'swarmcdn-sw.js', 20_000)
      return go('cold')
    }
    const { reads, wallMs } = await withTimeout(readAssets(plan.paths), plan.passTimeoutMs, () => `pass stuck for ${plan.passTimeoutMs} ms reading ${reading}`)
    const facts: Record<string, unknown> = {}
    if (plan.variant === 'swarmcdn') facts.peers = (await swarmcdn().stats()).peers
    if (step === 'cold') {
      if (plan.variant === 'workbox') facts.cached = await waitFor(() => allCached(plan), 10_000)
      await report({ kind: 'pass', step, reads, wallMs, facts })
      return plan.variant === 'http' ? void (await report({ kind: 'done' })) : go('prime')
    }
    if (step === 'prime') {
      const stored = reads.every((read) => read.sources === 'store')
      // Untimed: where each read came from, so a visit that stalls later shows how the store filled.
      await report({ kind: 'progress', step: `${step} ${attempt}: read ${reads.map((read) => `${read.sources ?? read.error ?? read.status}`).join(',')} in ${Math.round(wallMs)} ms` })
      if (plan.variant === 'swarmcdn' && !stored && attempt + 1 < plan.primeTries) {
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)))
        return go('prime', attempt + 1)
      }
      return go('warm')
    }
    await report({ kind: 'pass', step, reads, wallMs, facts })
    await report({ kind: 'done' })
  } catch (error) {
    await report({ kind: 'error', step, error: String((error as Error)?.stack ?? error) })
  }
}

let reading = ''

function withTimeout<T>(work: Promise<T>, timeoutMs: number, message: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), timeoutMs)))]).finally(() => clearTimeout(timer))
}

const swarmcdn = () => (window as unknown as { swarmcdn: SwarmcdnApi }).swarmcdn

/** Load event, swarmcdn.ready on a controlled swarmcdn page, then the settle pause (progress is posted before it, never during a pass). */
async function pageSettled(plan: DriverPlan, note: (what: string) => void): Promise<void> {
  if (document.readyState !== 'complete') await new Promise((resolve) => window.addEventListener('load', resolve, { once: true }))
  note('loaded')
  if (plan.variant === 'swarmcdn' && navigator.serviceWorker.controller) {
    if (!(await waitFor(async () => !!swarmcdn(), plan.readyTimeoutMs))) throw new Error('window.swarmcdn never appeared')
    const ready = await Promise.race([swarmcdn().ready.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), plan.readyTimeoutMs))])
    if (!ready) throw new Error(`window.swarmcdn.ready did not settle within ${plan.readyTimeoutMs} ms`)
    note('ready')
  }
  await new Promise((resolve) => setTimeout(resolve, plan.settleMs))
}

async function controlledBy(file: string, timeoutMs: number): Promise<void> {
  const ok = await waitFor(async () => !!navigator.serviceWorker.controller?.scriptURL.endsWith(`/${file}`), timeoutMs)
  if (!ok) throw new Error(`${file} did not control the page within ${timeoutMs} ms`)
}

async function allCached(plan: DriverPlan): Promise<boolean> {
  const cache = await caches.open(plan.workboxCache)
  for (const path of plan.paths) if (!(await cache.match(path))) return false
  return true
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (performance.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** The pass: fetch each asset and read its body whole, in turn, timing each; hashes afterwards. */
async function readAssets(paths: string[]): Promise<{ reads: PageRead[]; wallMs: number }> {
  performance.clearResourceTimings()
  const reads: PageRead[] = []
  const bodies: Array<ArrayBuffer | null> = []
  const wallStart = performance.now()
  for (const path of paths) {
    reading = path
    const start = performance.now()
    try {
      const response = await fetch(path)
      const body = await response.arrayBuffer()
      reads.push({ path, ms: performance.now() - start, status: response.status, bytes: body.byteLength, sources: response.headers.get('x-swarmcdn-sources') })
      bodies.push(body)
    } catch (error) {
      reads.push({ path, ms: performance.now() - start, error: String(error) })
      bodies.push(null)
    }
  }
  const wallMs = performance.now() - wallStart
  for (const [i, read] of reads.entries()) {
    const body = bodies[i]
    if (body) read.sha256 = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', body)), (b) => b.toString(16).padStart(2, '0')).join('')
    const entries = performance.getEntriesByName(new URL(read.path, location.href).href) as PerformanceResourceTiming[]
    const entry = entries[entries.length - 1]
    if (entry) read.viaSw = entry.workerStart > 0
  }
  return { reads, wallMs }
}
