// Reads a service worker's heap from outside over CDP (Runtime.getHeapUsage on its target), so a test
// can show that memory stays bounded while a large response streams through it.

import type { Browser } from 'playwright-core'
import { attachServiceWorkerCdp } from './service-worker-cdp.ts'

export interface WorkerHeap {
  /** JS heap plus ArrayBuffer backing stores and embedder memory, bytes. */
  bytes(): Promise<number>
  /** The parts of bytes(), for a report. */
  usage(): Promise<{ usedSize: number; embedderHeapUsedSize?: number; backingStorageSize?: number }>
  /** Runs a full garbage collection in the worker. */
  collectGarbage(): Promise<void>
  close(): Promise<void>
}

export async function attachWorkerHeap(browser: Browser, scriptUrlEnding: string): Promise<WorkerHeap> {
  const worker = await attachServiceWorkerCdp(browser, (url) => url.endsWith(scriptUrlEnding))
  return {
    usage: () => worker.send('Runtime.getHeapUsage'),
    async collectGarbage() {
      await worker.send('HeapProfiler.collectGarbage')
    },
    async bytes() {
      const usage = await worker.send('Runtime.getHeapUsage')
      if (typeof usage?.usedSize !== 'number') throw new Error(`Runtime.getHeapUsage: ${JSON.stringify(usage)}`)
      return usage.usedSize + (usage.embedderHeapUsedSize ?? 0) + (usage.backingStorageSize ?? 0)
    },
    close: () => worker.close(),
  }
}
