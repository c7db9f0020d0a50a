// Reads a service worker's heap from outside over CDP (Runtime.getHeapUsage on its target), so a test
// can show that memory stays bounded while a large response streams through it.

import type { Browser, CDPSession } from 'playwright-core'

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
  const cdp: CDPSession = await browser.newBrowserCDPSession()
  const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string; type: string; url: string }> }
  const target = targetInfos.find((info) => info.type === 'service_worker' && info.url.endsWith(scriptUrlEnding))
  if (!target) throw new Error(`no service worker target ending ${scriptUrlEnding}: ${targetInfos.map((t) => `${t.type} ${t.url}`).join(', ')}`)
  // A non-flattened session: Playwright's CDPSession cannot address child sessions directly.
  const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false })) as { sessionId: string }
  let nextId = 1
  const waiting = new Map<number, (result: any) => void>()
  cdp.on('Target.receivedMessageFromTarget', (event: { sessionId: string; message: string }) => {
    if (event.sessionId !== sessionId) return
    const message = JSON.parse(event.message)
    waiting.get(message.id)?.(message.result ?? message.error)
    waiting.delete(message.id)
  })
  const send = (method: string) =>
    new Promise<any>((resolve) => {
      const id = nextId++
      waiting.set(id, resolve)
      void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method }) })
    })
  return {
    usage: () => send('Runtime.getHeapUsage'),
    async collectGarbage() {
      await send('HeapProfiler.collectGarbage')
    },
    async bytes() {
      const usage = await send('Runtime.getHeapUsage')
      if (typeof usage?.usedSize !== 'number') throw new Error(`Runtime.getHeapUsage: ${JSON.stringify(usage)}`)
      return usage.usedSize + (usage.embedderHeapUsedSize ?? 0) + (usage.backingStorageSize ?? 0)
    },
    async close() {
      await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => undefined)
      await cdp.detach().catch(() => undefined)
    },
  }
}
