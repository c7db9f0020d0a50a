// A CPU profile of a page's service worker, through the DevTools protocol (e2e/helpers/service-worker-cdp.ts).

import type { Browser } from 'playwright-core'
import { attachServiceWorkerCdp } from '../../e2e/helpers/service-worker-cdp.ts'

export interface WorkerProfiler {
  /** The profile (.cpuprofile JSON), or null when it could not be taken. */
  stop(): Promise<unknown | null>
}

/** Bound on each command: a worker that does not answer must not hold the benchmark. */
const COMMAND_TIMEOUT_MS = 10_000

/** Starts profiling the origin's service worker; null when there is none. */
export async function startWorkerProfiler(browser: Browser, origin: string): Promise<WorkerProfiler | null> {
  const worker = await attachServiceWorkerCdp(browser, (url) => url.startsWith(origin)).catch(() => null)
  if (!worker) return null
  await worker.send('Profiler.enable', {}, COMMAND_TIMEOUT_MS)
  await worker.send('Profiler.start', {}, COMMAND_TIMEOUT_MS)
  return {
    async stop() {
      const result = (await worker.send('Profiler.stop', {}, COMMAND_TIMEOUT_MS)) as { profile?: unknown } | undefined
      await worker.close()
      return result?.profile ?? null
    },
  }
}
